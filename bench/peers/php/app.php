<?php
// SPDX-License-Identifier: Apache-2.0
// bench/peers/php/app.php: the two endpoints of mod_genflow that bench/run
// measures, written the usual PHP way (mod_php, persistent PDO, opcache),
// as a peer to compare with. httpd itself checks Basic auth (the same
// AuthUserFile); this script answers, byte for byte as the module:
//   GET  {base}/status/{id}  the module's own status SELECT (its text from
//                            bench/lib/print-sql), sent as PostgreSQL
//                            composed it, strong ETag
//   POST {base}/create       the module's field rules and prompt template,
//                            then one transaction of its own: reserve (same
//                            guard), make the account when missing, insert
//                            the pending row, ledger row; 201
// Its settings come from the PHP file named by GENFLOW_PEER_CONF (SetEnv in
// httpd.conf; bench/run writes it).
declare(strict_types=1);

$conf = require $_SERVER['GENFLOW_PEER_CONF'];
const NOT_FOUND_MSG = "no generation of yours has this id (the type's history lists yours)";
const PROMPT_MAX = 2000;
const PRESET_MAX = 64;
const URL_MAX = 2048;
const SEED_MAX = 4294967294;

final class Invalid extends Exception {}

function send_json(int $status, string $text): void
{
    http_response_code($status);
    header('Content-Type: application/json; charset=utf-8');
    if (!array_filter(headers_list(), fn($h) => stripos($h, 'Cache-Control:') === 0)) {
        header('Cache-Control: no-store');
    }
    echo $text, "\n";
}

function send_error(int $status, string $code, string $message): void
{
    send_json($status, json_encode(['error' => ['code' => $code, 'message' => $message]],
                                   JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE));
}

function db(array $conf): PDO
{
    // One connection per httpd process, kept across requests. Without
    // server-side prepares pdo_pgsql sends each statement with its
    // parameters in one round trip (PQexecParams) instead of
    // PREPARE + EXECUTE + DEALLOCATE per request.
    return new PDO($conf['dsn'], $conf['user'], '', [
        PDO::ATTR_PERSISTENT => true,
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::PGSQL_ATTR_DISABLE_PREPARES => true,
    ]);
}

// apr_dbd placeholders (%s, %d) → PDO's positional ones.
function positional(string $sql): string
{
    return preg_replace('/%[sd]/', '?', $sql);
}

/* Where a generation's stream is, as the module says it (eventsUrl): on
 * the events host, with a token of the reader's (HMAC-SHA256 of the type,
 * id, user and expiry under the first key of the secret file, valid to
 * the end of the day after tomorrow, UTC), else the path on this host. */
function b64url(string $bytes): string
{
    return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
}

function events_url(array $conf, string $id, string $user): string
{
    $path = $conf['base'] . '/events/' . $id;
    if (($conf['events_base'] ?? '') === '' || ($conf['events_key'] ?? '') === '') return $path;
    $expiry = (string)((intdiv(time(), 86400) + 2) * 86400);
    $mac = hash_hmac('sha256', "genflow-events-v1\n{$conf['type']}\n$id\n$user\n$expiry",
                     $conf['events_key'], true);
    return $conf['events_base'] . $path . '?token=' . $expiry . '.' . b64url($user) . '.' . b64url($mac);
}

function status(array $conf, string $user, string $id): void
{
    if (!preg_match('/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/', $id)) {
        send_error(404, 'GENERATION_NOT_FOUND', NOT_FOUND_MSG);
        return;
    }
    $st = db($conf)->prepare(positional($conf['get_sql']));
    $st->execute([$id, $user]);
    $row = $st->fetch(PDO::FETCH_NUM);
    if ($row === false) {
        send_error(404, 'GENERATION_NOT_FOUND', NOT_FOUND_MSG);
        return;
    }
    [$json, $state, $age_ms] = $row;
    $json = substr(rtrim($json), 0, -1) . ',"eventsUrl":'
        . json_encode(events_url($conf, $id, $user), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . '}';
    if (!in_array($state, ['completed', 'failed', 'cancelled'], true)) {
        header('Retry-After: ' . min(10, 1 + intdiv(intdiv((int)$age_ms, 1000), 5)));
    }
    $etag = '"' . substr(base64_encode(sha1($json, true)), 0, 27) . '"';
    header('ETag: ' . $etag);
    header('Cache-Control: private, no-cache');
    $inm = $_SERVER['HTTP_IF_NONE_MATCH'] ?? null;
    if ($inm !== null && ($inm === '*' || in_array($etag, preg_split('/\s*,\s*/', $inm), true))) {
        http_response_code(304);
        return;
    }
    send_json(200, $json);
}

function get_string($v, string $field, int $max): string
{
    if (!is_string($v)) throw new Invalid("$field must be a string");
    if (strpos($v, "\0") !== false) throw new Invalid("$field must not contain NUL characters");
    if ($v === '') throw new Invalid("$field must not be empty");
    if (strspn($v, " \t\r\n") === strlen($v)) throw new Invalid("$field must not be blank (only white space)");
    if (strlen($v) - preg_match_all('/[\x80-\xBF]/', $v) > $max) throw new Invalid("$field is longer than $max characters");
    return $v;
}

function get_enum($v, string $field, array $allowed): string
{
    get_string($v, $field, 32);
    if (!in_array($v, $allowed, true)) throw new Invalid("$field must be one of: " . implode(', ', $allowed));
    return $v;
}

function get_number($v, string $field, float $lo, float $hi, bool $integral)
{
    if (!is_int($v) && !(is_float($v) && !$integral)) {
        throw new Invalid("$field must be " . ($integral ? 'an integer' : 'a number'));
    }
    if ($v < $lo || $v > $hi) throw new Invalid("$field must be between $lo and $hi");
    return $v;
}

function parse_input($body, string $type): array
{
    if (!is_array($body) || array_is_list($body) && $body !== []) {
        throw new Invalid('the request body must be a JSON object');
    }
    $in = [];
    $params = [];
    foreach ($body as $k => $v) {
        if ($v === null) continue;
        switch ($k) {
        case 'prompt': $in['prompt'] = get_string($v, 'prompt', PROMPT_MAX); break;
        case 'customPrompt': $in['customPrompt'] = get_string($v, 'customPrompt', PROMPT_MAX); break;
        case 'preset': $in['preset'] = get_string($v, 'preset', PRESET_MAX); break;
        case 'sourceImage':
            $s = get_string($v, 'sourceImage', URL_MAX);
            if (strncasecmp($s, 'https://', 8)) throw new Invalid('sourceImage must be an https URL');
            if (strpbrk($s, " \t\r\n\"<>\\") !== false) {
                throw new Invalid('sourceImage holds a space, quote, angle bracket or backslash, which a URL may not');
            }
            $u = parse_url($s);
            if (!$u || empty($u['host'])) throw new Invalid('sourceImage is not a URL with a host name');
            if (isset($u['user']) || isset($u['pass'])) throw new Invalid('sourceImage must not carry a user name or password');
            $in['sourceImage'] = $s;
            break;
        case 'style': $in['style'] = get_enum($v, 'style', ['realistic', 'artistic', 'minimal']); break;
        case 'quality': $in['quality'] = get_enum($v, 'quality', ['auto', 'high']); break;
        case 'aspectRatio':
            $in['aspectRatio'] = get_enum($v, 'aspectRatio', ['1:1', '16:9', '9:16', '4:3', '3:4', '3:2', '2:3', '21:9']);
            break;
        case 'parameters':
            if (!is_array($v) || (array_is_list($v) && $v !== [])) throw new Invalid('parameters must be an object');
            foreach ($v as $pk => $pv) {
                $f = "parameters.$pk";
                if ($pk === 'guidance_scale') $params['guidance_scale'] = get_number($pv, $f, 0, 20, false);
                elseif ($pk === 'num_inference_steps') $params['num_inference_steps'] = get_number($pv, $f, 1, 100, true);
                elseif ($pk === 'strength') $params['strength'] = get_number($pv, $f, 0, 1, false);
                elseif ($pk === 'seed') $params['seed'] = get_number($pv, $f, 0, SEED_MAX, true);
                else throw new Invalid("$f is not a known field");
            }
            break;
        default: throw new Invalid("$k is not a known field");
        }
    }
    if (!isset($in['prompt'])) throw new Invalid('prompt is required for this type');
    if (isset($in['preset'])) throw new Invalid("preset: '{$in['preset']}' is not one of this week's presets for $type");
    $in['parameters'] = $params;
    return $in;
}

function build_prompt(array $in, string $type): string
{
    $tmpl = 'neo-glitch digital art, {prompt}, {customPrompt}, '
          . 'chromatic aberration and scan-line glitches, {style}, {quality}, aspect ratio {aspectRatio}';
    $styles = ['realistic' => 'photorealistic, natural lighting', 'artistic' => 'artistic, painterly brushwork',
               'minimal' => 'minimalist, clean composition'];
    $value = [
        'prompt' => $in['prompt'] ?? null, 'customPrompt' => $in['customPrompt'] ?? null,
        'preset' => $in['preset'] ?? null, 'style' => $styles[$in['style'] ?? ''] ?? null,
        'quality' => ($in['quality'] ?? '') === 'high' ? 'highly detailed, sharp focus' : null,
        'aspectRatio' => $in['aspectRatio'] ?? null, 'type' => $type,
    ];
    $out = [];
    foreach (explode(',', $tmpl) as $seg) {
        $placeholders = 0;
        $filled = 0;
        $text = preg_replace_callback('/\{([A-Za-z]+)\}/', function ($m) use ($value, &$placeholders, &$filled) {
            if (!array_key_exists($m[1], $value)) return $m[0];
            $placeholders++;
            $v = $value[$m[1]];
            if ($v !== null && $v !== '') { $filled++; return $v; }
            return '';
        }, $seg);
        $text = trim($text, " \t");
        if (($placeholders === 0 || $filled > 0) && $text !== '') $out[] = $text;
    }
    return implode(', ', $out);
}

const TODAY = "(now() AT TIME ZONE 'UTC')::date";

function create(array $conf, string $user): void
{
    if (!preg_match('#^application/json\s*(;|$)#i', $_SERVER['CONTENT_TYPE'] ?? '')) {
        send_error(415, 'UNSUPPORTED_MEDIA_TYPE', 'the request body must be application/json');
        return;
    }
    $raw = file_get_contents('php://input');
    if (strlen($raw) > 65536) {
        send_error(413, 'PAYLOAD_TOO_LARGE', 'the request body is too large');
        return;
    }
    try {
        $body = json_decode($raw, true, 64, JSON_THROW_ON_ERROR | JSON_BIGINT_AS_STRING);
        $in = parse_input($body, $conf['type']);
        $prompt = build_prompt($in, $conf['type']);
    } catch (JsonException $e) {
        send_error(400, 'VALIDATION_ERROR', 'the request body is not valid JSON');
        return;
    } catch (Invalid $e) {
        send_error(400, 'VALIDATION_ERROR', $e->getMessage());
        return;
    }
    $seed = $in['parameters']['seed'] ?? random_int(0, SEED_MAX);
    $in['parameters']['seed'] = $seed;
    $b = random_bytes(16);
    $b[6] = chr((ord($b[6]) & 0x0f) | 0x40);
    $b[8] = chr((ord($b[8]) & 0x3f) | 0x80);
    $id = vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($b), 4));
    $cost = $conf['cost'];
    $db = db($conf);
    $today = TODAY;
    $reserve = "WITH args AS (SELECT ?::text AS user_id, ?::int AS cost, ?::int AS day_limit)
         UPDATE genflow_accounts a SET balance = a.balance - args.cost,
           daily_used = CASE WHEN a.daily_date = $today THEN a.daily_used ELSE 0 END + args.cost,
           daily_date = $today, updated_at = now()
         FROM args WHERE a.user_id = args.user_id AND a.balance >= args.cost
           AND (COALESCE(a.daily_limit, args.day_limit) = 0
                OR CASE WHEN a.daily_date = $today THEN a.daily_used ELSE 0 END + args.cost
                   <= COALESCE(a.daily_limit, args.day_limit))
         RETURNING 1";
    $args = [$user, $cost, $conf['daily_limit']];
    try {
        $db->beginTransaction();
        $st = $db->prepare($reserve);
        $st->execute($args);
        if (!$st->fetch()) {
            // No account yet (or not enough credits): make it, try once more.
            $db->prepare("WITH ins AS (INSERT INTO genflow_accounts (user_id, balance) VALUES (?, ?)
                            ON CONFLICT (user_id) DO NOTHING RETURNING user_id, balance)
                          INSERT INTO genflow_ledger (user_id, kind, amount, reason)
                          SELECT user_id, 'grant', balance, 'starting balance' FROM ins WHERE balance > 0")
               ->execute([$user, $conf['starting_credits']]);
            $st = $db->prepare($reserve);
            $st->execute($args);
            if (!$st->fetch()) {
                $db->rollBack();
                send_error(402, 'INSUFFICIENT_CREDITS', 'not enough credits for this generation');
                return;
            }
        }
        $st = $db->prepare("INSERT INTO {$conf['table']} (id, user_id, prompt, user_prompt, preset, source_image,
                              aspect_ratio, seed, input, estimated_cost, max_retries, chain, deadline_secs)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            RETURNING estimated_cost, prompt, genflow_rfc3339(created_at)");
        $st->execute([$id, $user, $prompt, $in['prompt'], $in['preset'] ?? null, $in['sourceImage'] ?? null,
                      $in['aspectRatio'] ?? null, $seed, json_encode($in, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE),
                      $cost, $conf['max_retries'], $conf['chain'], $conf['deadline_secs']]);
        $row = $st->fetch(PDO::FETCH_NUM);
        $db->prepare("INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason)
                      VALUES (?, 'reserve', ?, '{$conf['type']}', ?, 'create')")
           ->execute([$user, -$cost, $id]);
        $db->commit();
    } catch (PDOException $e) {
        if ($db->inTransaction()) $db->rollBack();
        error_log('create: ' . $e->getMessage());
        send_error(500, 'INTERNAL_ERROR', 'internal error; see the server log');
        return;
    }
    $url = $conf['base'] . '/status/' . $id;
    header('Location: ' . $url);
    send_json(201, json_encode([
        'generationId' => $id, 'type' => $conf['type'], 'status' => 'pending',
        'estimatedCost' => (int)$row[0], 'prompt' => $row[1], 'createdAt' => $row[2], 'statusUrl' => $url,
        'eventsUrl' => events_url($conf, $id, $user),
    ], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE));
}

$user = $_SERVER['REMOTE_USER'] ?? $_SERVER['PHP_AUTH_USER'] ?? '';
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$base = $conf['base'];
try {
    if ($_SERVER['REQUEST_METHOD'] === 'GET' && strncmp($path, "$base/status/", strlen("$base/status/")) === 0) {
        status($conf, $user, substr($path, strlen("$base/status/")));
    } elseif ($_SERVER['REQUEST_METHOD'] === 'POST' && $path === "$base/create") {
        create($conf, $user);
    } else {
        send_error(404, 'NOT_FOUND', 'no such endpoint');
    }
} catch (PDOException $e) {
    error_log('peer: ' . $e->getMessage());
    send_error(500, 'INTERNAL_ERROR', 'internal error; see the server log');
}
