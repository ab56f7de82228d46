import { Log } from 'node-av';
import { AV_LOG_QUIET } from 'node-av/constants';

/**
 * FFmpeg's libraries, loaded in process by node-av, print to stderr on their own: a line for every broken
 * frame a member sends, statistics when an encoder closes. The decoders and encoders count and log what
 * matters themselves, so the libraries are silenced once, by whichever of them loads first.
 */
Log.setLevel(AV_LOG_QUIET);
