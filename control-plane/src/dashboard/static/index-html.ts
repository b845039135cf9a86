/** The dashboard's single page. Embedded as a string so it ships inside dist (no copy step). */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Millwright</title>
<link rel="stylesheet" href="/style.css">
<script type="module" src="/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <h1 class="brand"><a href="#/">Millwright</a></h1>
  <nav aria-label="Pages">
    <ul>
      <li><a href="#/" data-nav="overview">Fleet</a></li>
      <li><a href="#/models" data-nav="models">Models</a></li>
      <li><a href="#/rollouts" data-nav="rollouts" id="nav-rollouts">Rollouts</a></li>
      <li><a href="#/alerts" data-nav="alerts" id="nav-alerts">Alerts</a></li>
    </ul>
  </nav>
  <div class="tools">
    <span id="live" class="live" role="status" aria-live="polite">connecting…</span>
    <button type="button" id="large-text" aria-pressed="false">Large text</button>
    <button type="button" id="signin">Sign in</button>
  </div>
</header>
<form id="signin-form" class="signin" hidden>
  <label for="token">API token</label>
  <input id="token" name="token" type="password" autocomplete="off" spellcheck="false">
  <button type="submit">Use token</button>
  <button type="button" id="signout">Sign out</button>
  <span id="whoami" class="muted"></span>
</form>
<main id="main" tabindex="-1"><p class="muted">Loading…</p></main>
</body>
</html>
`;
