// HTML pages shaped like Keycloak's login theme: the element ids
// (#kc-form-login, #username, #password, #kc-login, #input-error, #kc-page-title)
// are the ones Keycloak's default theme uses, so browser tests written against
// this provider work against a real Keycloak too.
export function escapeHtml(value) {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f0f0f0;margin:0;color:#151515}
#kc-header{text-align:center;padding:40px 0 20px;font-size:28px;letter-spacing:.05em;text-transform:uppercase;color:#333}
.card-pf{background:#fff;max-width:420px;margin:0 auto;padding:32px 40px;border-top:4px solid #0066cc;box-shadow:0 1px 3px rgba(0,0,0,.15)}
#kc-page-title{font-size:24px;font-weight:400;margin:0 0 24px;text-align:center}
label{display:block;font-size:14px;margin:16px 0 6px}
input.pf-c-form-control{width:100%;box-sizing:border-box;padding:8px;font-size:15px;border:1px solid #8a8d90}
input[aria-invalid=true]{border-color:#c9190b}
#input-error{display:block;color:#c9190b;font-size:14px;margin-top:8px}
#kc-login{margin-top:24px;width:100%;padding:10px;font-size:16px;background:#0066cc;color:#fff;border:0;cursor:pointer}
.kc-dev-note{max-width:420px;margin:12px auto;font-size:12px;color:#6a6e73;text-align:center}
`;

function layout({ title, realm, body }) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body class="login-pf">
<div class="login-pf-page">
<div id="kc-header"><div id="kc-header-wrapper">${escapeHtml(realm)}</div></div>
<div class="card-pf">
${body}
</div>
<p class="kc-dev-note">Development identity provider (not Keycloak). Do not use real credentials.</p>
</div>
</body>
</html>`;
}

export function loginPage({ realm, action, username = '', error }) {
  const invalid = error ? ' aria-invalid="true"' : '';
  return layout({
    title: `Sign in to ${realm}`,
    realm,
    body: `<h1 id="kc-page-title">Sign in to your account</h1>
<div id="kc-content"><div id="kc-content-wrapper">
<form id="kc-form-login" onsubmit="login.disabled = true; return true;" action="${escapeHtml(action)}" method="post" novalidate>
<div class="form-group">
<label for="username" class="pf-c-form__label pf-c-form__label-text">Username or email</label>
<input tabindex="1" id="username" class="pf-c-form-control" name="username" value="${escapeHtml(username)}" type="text" autofocus autocomplete="username"${invalid}>
${error ? `<span id="input-error" class="pf-c-form__helper-text pf-m-error required kc-feedback-text" aria-live="polite">${escapeHtml(error)}</span>` : ''}
</div>
<div class="form-group">
<label for="password" class="pf-c-form__label pf-c-form__label-text">Password</label>
<input tabindex="2" id="password" class="pf-c-form-control" name="password" type="password" autocomplete="current-password"${invalid}>
</div>
<div id="kc-form-buttons" class="form-group">
<input tabindex="4" class="pf-c-button pf-m-primary pf-m-block btn-lg" name="login" id="kc-login" type="submit" value="Sign In">
</div>
</form>
</div></div>`,
  });
}

export function messagePage({ realm, title, message, status = 'error' }) {
  return layout({
    title,
    realm,
    body: `<h1 id="kc-page-title">${escapeHtml(title)}</h1>
<div id="kc-content"><div id="kc-content-wrapper">
<div class="alert-${escapeHtml(status)}"><span class="kc-feedback-text" id="kc-error-message">${escapeHtml(message)}</span></div>
</div></div>`,
  });
}

// GET /realms/REALM/dev/users: the users and their attributes, to see what
// the app's sync wrote. Not a Keycloak page.
export function usersPage({ realm, users }) {
  const rows = users.map((u) => {
    const attributes = Object.entries(u.attributes || {})
      .map(([name, values]) => `<li><code>${escapeHtml(name)}</code>: ${values.map(escapeHtml).join(', ')}</li>`)
      .join('');
    return `<tr id="user-${escapeHtml(u.id)}">
<td>${escapeHtml(u.username)}${u.enabled ? '' : ' (disabled)'}<br><small><code>${escapeHtml(u.id)}</code></small></td>
<td>${escapeHtml([u.firstName, u.lastName].filter(Boolean).join(' '))}<br>${escapeHtml(u.email)}</td>
<td>${attributes ? `<ul>${attributes}</ul>` : '—'}</td>
</tr>`;
  }).join('\n');
  return layout({
    title: `Users of ${realm}`,
    realm,
    body: `<h1 id="kc-page-title">Users</h1>
<style>.card-pf{max-width:960px}table{width:100%;border-collapse:collapse;font-size:14px}td,th{text-align:left;vertical-align:top;padding:6px;border-bottom:1px solid #ddd}ul{margin:0;padding-left:16px}</style>
<table id="dev-users">
<thead><tr><th>username / id</th><th>name / e-mail</th><th>attributes</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p><a href="?format=json">JSON</a></p>`,
  });
}
