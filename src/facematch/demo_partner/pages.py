"""The demo partner's HTML pages (plain strings: every value is escaped)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#15171a}
header{background:#123c69;color:#fff;padding:14px 20px;font-weight:600}
main{max-width:760px;margin:0 auto;padding:20px}
fieldset{border:1px solid #c9ced8;border-radius:8px;margin:0 0 14px;padding:12px 14px;background:#fff}
legend{font-weight:600} label{display:block;margin:6px 0}
button{font:inherit;font-weight:600;background:#123c69;color:#fff;border:0;border-radius:8px;
padding:10px 18px}
pre{background:#fff;border:1px solid #c9ced8;border-radius:8px;padding:12px;overflow:auto;font-size:13px}
iframe{width:100%;height:760px;border:1px solid #c9ced8;border-radius:8px;background:#fff}
.ok{color:#0a6b47}.bad{color:#b42318}
"""


def _layout(partner: str, title: str, body: str, *, refresh_s: int | None = None) -> str:
    refresh = f"<meta http-equiv='refresh' content='{refresh_s}'>" if refresh_s else ""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{refresh}"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)} · {escape(partner)}</title><style>{_STYLE}</style></head>"
        f"<body><header>{escape(partner)} <small>(facematch demo partner)</small></header>"
        f"<main>{body}</main></body></html>"
    )


def home_page(partner: str) -> str:
    body = """
<h1>Verify your face</h1>
<p>This demo partner uploads your reference photo to its own backend, asks facematch for a Web SDK
launch URL (Initiate Flow, <code>source=WEB_SDK</code>) and opens it.</p>
<form method="post" action="/start" enctype="multipart/form-data">
<fieldset><legend>Reference photo (the ID portrait)</legend>
<label for="reference">JPEG, PNG or WebP</label>
<input id="reference" name="reference" type="file" required
 accept="image/jpeg,image/png,image/webp"></fieldset>
<fieldset><legend>How to open the flow</legend>
<label><input type="radio" name="mode" value="redirect" checked> Redirect (top-level page)</label>
<label><input type="radio" name="mode" value="iframe"> Inside an iframe (postMessage)</label></fieldset>
<fieldset><legend>Options</legend>
<label for="locale">Language</label>
<select id="locale" name="locale"><option value="id_ID">Bahasa Indonesia</option>
<option value="en_ID">English</option></select>
<label for="theme">Theme</label>
<select id="theme" name="theme"><option>NO_PREFERENCE</option><option>LIGHT_MODE</option>
<option>DARK_MODE</option></select>
<label><input type="checkbox" name="allow_qr" value="true"> allowQr (QR when there is no camera)</label>
<label><input type="checkbox" name="force_qr" value="true"> forceQr (always continue on a phone)</label>
<label><input type="checkbox" name="portrait_only" value="true"> portraitOnly</label></fieldset>
<button type="submit" id="start">Start verification</button>
</form>"""
    return _layout(partner, "Start", body)


def frame_page(partner: str, launch_url: str, facematch_origin: str) -> str:
    # The listener accepts messages from facematch's origin only, as a real partner page must.
    script = f"""
<script>
const FACEMATCH_ORIGIN = {json.dumps(facematch_origin)};
window.addEventListener('message', function (event) {{
  if (event.origin !== FACEMATCH_ORIGIN || !event.data || event.data.source !== 'facematch') return;
  window.lastFacematchMessage = {{origin: event.origin, data: event.data}};
  document.getElementById('message').textContent = JSON.stringify(event.data, null, 2);
  const q = new URLSearchParams();
  for (const k of ['status', 'partner_session_id', 'error_code']) if (event.data[k]) q.set(k, event.data[k]);
  const outcome = event.data.status === 'COMPLETED' ? 'success' : 'failure';
  setTimeout(function () {{ location.href = '/result/' + outcome + '?' + q.toString(); }}, 1500);
}});
</script>"""
    body = (
        "<h1>Verification (iframe)</h1>"
        "<iframe id='facematch' title='Face verification' allow='camera' "
        f"src='{escape(launch_url)}'></iframe>"
        "<h2>Message from the iframe</h2><pre id='message'>(none yet)</pre>" + script
    )
    return _layout(partner, "Verification", body)


def result_page(
    partner: str,
    outcome: str,
    params: dict[str, str],
    details: dict[str, Any],
    webhooks: list[dict[str, Any]],
) -> str:
    status = params.get("status", "")
    css = "ok" if status == "COMPLETED" else "bad"
    body = (
        f"<h1 class='{css}' id='fe-status'>Front-end callback: {escape(status or '?')}</h1>"
        f"<p>Landed on <code>/result/{escape(outcome)}</code> with</p>"
        f"<pre id='fe-params'>{escape(json.dumps(params, indent=2))}</pre>"
        "<h2>Get Submission Details (partner backend → facematch)</h2>"
        f"<pre id='details'>{escape(json.dumps(details, indent=2))}</pre>"
        f"<h2>Signed webhooks received ({len(webhooks)}{', waiting…' if not webhooks else ''})</h2>"
        f"<pre id='webhooks'>{escape(json.dumps(webhooks, indent=2))}</pre>"
        "<p><a href='/'>Start again</a></p>"
    )
    # The signed webhook may land a moment after the user: look again until it is here.
    waiting = status == "COMPLETED" and not webhooks
    return _layout(partner, "Result", body, refresh_s=2 if waiting else None)
