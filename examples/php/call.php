<?php
// Invites users to a room, as CppComet's video-chat-example/call.php does: one INSERT per participant,
// the caller included. Each invited browser hears onCall.
// GET call.php?room=101&users=1,2,3&caller=1&profile=video&message={"text":"hi"}
require __DIR__ . '/cometql.php';

$room = (string)($_GET['room'] ?? '');
$users = user_ids((string)($_GET['users'] ?? ''));
$caller = (int)($_GET['caller'] ?? 0);
$profile = (string)($_GET['profile'] ?? 'video');
$message = (string)($_GET['message'] ?? '{}');
if ($room === '' || !$users) {
    reply(['error' => 'room and users are required'], 400);
}
$link = cometql();
foreach ($users as $userId) {
    query($link, "INSERT INTO conference (name, user_id, caller_id, message, profile) VALUES ('"
        . mysqli_real_escape_string($link, $room) . "', " . $userId . ", " . $caller . ", '"
        . mysqli_real_escape_string($link, $message) . "', '" . mysqli_real_escape_string($link, $profile) . "');");
}
reply(['room' => $room, 'invited' => $users]);
