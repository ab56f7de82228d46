<?php
// Who is in a room and what they do; mute, unmute or kick a member.
// GET members.php?room=101                 →  {"room":"101","members":[{"user_id":"7","talking":"0",...}]}
// GET members.php?room=101&mute=7          (also unmute=7, kick=7)
require __DIR__ . '/cometql.php';

$room = (string)($_GET['room'] ?? '');
if ($room === '') {
    reply(['error' => 'room is required'], 400);
}
$link = cometql();
$name = "'" . mysqli_real_escape_string($link, $room) . "'";
if (isset($_GET['mute']) || isset($_GET['unmute'])) {
    $userId = (int)($_GET['mute'] ?? $_GET['unmute']);
    $audio = isset($_GET['mute']) ? 0 : 1;
    query($link, "UPDATE conference_members SET audio = $audio WHERE name = $name AND user_id = $userId");
}
if (isset($_GET['kick'])) {
    query($link, "DELETE FROM conference_members WHERE name = $name AND user_id = " . (int)$_GET['kick']);
}
$members = [];
$result = query($link, "SELECT * FROM conference_members WHERE name = $name");
while ($row = mysqli_fetch_assoc($result)) {
    $members[] = $row;
}
reply(['room' => $room, 'members' => $members]);
