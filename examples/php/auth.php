<?php
// Gives a user a key (users_auth), as CppComet's video-chat-example/auth.php does. The page passes the
// key to cometVideoApi.start({user_id, user_key}); it is also the user's SIP password.
// GET auth.php?user_id=7   →   {"user_id":7,"hash":"..."}
require __DIR__ . '/cometql.php';

$userId = (int)($_GET['user_id'] ?? 0);
if ($userId <= 0) {
    reply(['error' => 'user_id is required'], 400);
}
$link = cometql();
$hash = bin2hex(random_bytes(16));
query($link, "INSERT INTO users_auth (id, hash) VALUES (" . $userId . ", '" . mysqli_real_escape_string($link, $hash) . "')");
reply(['user_id' => $userId, 'hash' => $hash]);
