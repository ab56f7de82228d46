/**
 * Transactions (RFC 3261 section 17) over a reliable transport: no timers for retransmitting, but a request
 * that arrives again (same branch) is answered with the last response instead of being processed twice,
 * and the ACK of a non-2xx final response is absorbed by the INVITE transaction it belongs to.
 */
import type { Logger } from 'pino';
import { formatReply, newTag, tagOf, type ReplyOptions, type SipRequest, type SipResponse } from './message.js';
import type { Flow } from './transport.js';

/** RFC 3261 Timer J / Timer F: 64 × T1. */
const TRANSACTION_LIFETIME_MS = 32_000;
/** Completed transactions remembered per socket, for retransmissions; the oldest are forgotten first. */
const MAX_TRANSACTIONS_PER_FLOW = 128;

export class ServerTransaction {
  /** The To tag of our responses when the request has none; an INVITE's becomes the dialog's local tag. */
  readonly toTag = newTag();
  private lastResponse: string | undefined;
  private finalStatus: number | undefined;

  constructor(
    readonly flow: Flow,
    readonly request: SipRequest,
    private readonly onCompleted: (transaction: ServerTransaction) => void,
  ) {}

  /** A final response went out, or the socket closed: nothing more can be answered. */
  get finished(): boolean {
    return this.finalStatus !== undefined || !this.flow.open;
  }

  /** Sends a response; anything after the final one is ignored (a CANCEL may have answered first). */
  respond(status: number, options: ReplyOptions = {}): void {
    if (this.finalStatus !== undefined) return;
    this.lastResponse = formatReply(this.request, status, { toTag: this.toTag, ...options });
    if (status >= 200) {
      this.finalStatus = status;
      this.onCompleted(this);
    }
    this.flow.send(this.lastResponse);
  }

  /** The request came again: RFC 3261 17.2.1 and 17.2.2 answer it with the last response. */
  retransmit(): void {
    if (this.lastResponse !== undefined) this.flow.send(this.lastResponse);
  }
}

export class ServerTransactions {
  private readonly byFlow = new Map<number, Map<string, ServerTransaction>>();

  /** The transaction `request` belongs to; ACK and CANCEL find their INVITE's by passing method INVITE. */
  find(flow: Flow, request: SipRequest, method = request.method): ServerTransaction | undefined {
    return this.byFlow.get(flow.id)?.get(transactionKey(request, method));
  }

  create(flow: Flow, request: SipRequest): ServerTransaction {
    const key = transactionKey(request, request.method);
    const transactions = this.byFlow.get(flow.id) ?? new Map<string, ServerTransaction>();
    this.byFlow.set(flow.id, transactions);
    for (const oldest of transactions.keys()) {
      if (transactions.size < MAX_TRANSACTIONS_PER_FLOW) break;
      transactions.delete(oldest);
    }
    const transaction = new ServerTransaction(flow, request, () => {
      setTimeout(() => {
        if (transactions.get(key) === transaction) transactions.delete(key);
      }, TRANSACTION_LIFETIME_MS).unref();
    });
    transactions.set(key, transaction);
    return transaction;
  }

  dropFlow(flow: Flow): void {
    this.byFlow.delete(flow.id);
  }
}

/**
 * RFC 3261 17.2.3: branch, sent-by and method; ACK matches its INVITE. Without the magic cookie (RFC 2543
 * clients) the request is identified by Call-ID, CSeq number and From tag instead.
 */
function transactionKey(request: SipRequest, method: string): string {
  const via = request.vias[0];
  const branch = via?.params.get('branch');
  const kind = method === 'ACK' ? 'INVITE' : method;
  if (via && branch?.startsWith('z9hG4bK')) return `${branch} ${via.host}:${via.port ?? ''} ${kind}`;
  return `${request.callId} ${request.cseq.seq} ${tagOf(request.from) ?? ''} ${kind}`;
}

interface PendingRequest {
  flowId: number;
  resolve(response: SipResponse | undefined): void;
  timer: NodeJS.Timeout;
}

/** Requests we send (BYE): their final responses, matched by our branch. */
export class ClientTransactions {
  private readonly pending = new Map<string, PendingRequest>();

  constructor(private readonly log: Logger) {}

  /** Sends and resolves with the final response, or undefined when none came (timeout, socket closed). */
  send(flow: Flow, branch: string, message: string): Promise<SipResponse | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(branch, undefined), TRANSACTION_LIFETIME_MS);
      timer.unref();
      this.pending.set(branch, { flowId: flow.id, resolve, timer });
      flow.send(message);
    });
  }

  /** Provisional responses and responses to nothing we sent are dropped. */
  receive(response: SipResponse): void {
    const branch = response.vias[0]?.params.get('branch');
    if (!branch || !this.pending.has(branch)) {
      this.log.debug({ status: response.status, callId: response.callId }, 'stray SIP response dropped');
      return;
    }
    if (response.status >= 200) this.settle(branch, response);
  }

  dropFlow(flow: Flow): void {
    for (const [branch, request] of this.pending) if (request.flowId === flow.id) this.settle(branch, undefined);
  }

  private settle(branch: string, response: SipResponse | undefined): void {
    const request = this.pending.get(branch);
    if (!request) return;
    this.pending.delete(branch);
    clearTimeout(request.timer);
    request.resolve(response);
  }
}
