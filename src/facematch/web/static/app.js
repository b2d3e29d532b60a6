/* facematch H5 app: the hosted selfie capture flow. No framework, no build step. See docs/web-sdk.md. */
(function () {
  'use strict';

  var API = '/web/api';
  var STORE = 'facematch.session';
  var PREVIEW_WIDTH = 480;
  var PREVIEW_GAP_MS = 250;
  var POLL_MS = 1000; // waiting for the phone of a QR handoff
  var FAST_POLL_MS = 250; // a photo is being verified: the answer is a fraction of a second away

  var $ = function (id) { return document.getElementById(id); };
  var S = {
    token: null, config: null, dict: null, screen: 'loading', stream: null, previewing: false,
    shot: null, polling: null, finished: false, lastSubmission: null, handoffExpiresAt: 0, errorCode: null
  };

  /* ---------- text ---------- */
  function t(key, vars) {
    var dict = S.dict || window.FM_I18N.id_ID;
    var text = dict[key] || window.FM_I18N.id_ID[key] || key;
    vars = vars || {};
    if (S.config) vars.partner = vars.partner || S.config.partnerName;
    return text.replace(/\{(\w+)\}/g, function (m, name) { return name in vars ? String(vars[name]) : m; });
  }
  function translatePage() {
    document.querySelectorAll('[data-i18n]').forEach(function (el) { el.textContent = t(el.getAttribute('data-i18n')); });
    document.querySelectorAll('[data-i18n-alt]').forEach(function (el) { el.alt = t(el.getAttribute('data-i18n-alt')); });
    document.title = t('app.title');
  }
  function applyConfig(config) {
    S.config = config;
    var locale = config.locale === 'en_ID' ? 'en_ID' : 'id_ID';
    S.dict = window.FM_I18N[locale];
    document.documentElement.lang = locale === 'en_ID' ? 'en' : 'id';
    document.documentElement.setAttribute('data-theme', { DARK_MODE: 'dark', LIGHT_MODE: 'light' }[config.theme] || 'auto');
    $('partner-name').textContent = config.partnerName;
    $('btn-done').hidden = !config.showCta;
    // The phone of a QR handoff has no partner page to return to: the desktop calls back.
    document.querySelectorAll('[data-action="leave"]').forEach(function (el) { el.hidden = config.role !== 'desktop'; });
    translatePage();
    watchOrientation();
  }

  /* ---------- screens ---------- */
  function show(name) {
    document.querySelectorAll('.screen').forEach(function (el) { el.hidden = el.id !== 'screen-' + name; });
    S.screen = name;
    if (name !== 'capture') stopPreview();
    var heading = document.querySelector('#screen-' + name + ' h1');
    var main = $('main');
    // Move focus to the new screen's heading so screen readers announce it.
    if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); } else { main.focus({ preventScroll: true }); }
  }
  function showError(code, opts) {
    opts = opts || {};
    S.errorCode = code;
    stopCamera();
    stopPolling();
    $('error-title').textContent = t('error.' + code + '.title');
    $('error-text').textContent = t('error.' + code + '.text');
    $('btn-error-retry').hidden = !opts.retry;
    S.errorRetry = opts.retry || null;
    // Without a session the partner's URLs are unknown: nothing to call back.
    $('btn-error-leave').hidden = !(S.config && S.config.role === 'desktop' && opts.callback !== false);
    show('error');
  }

  /* ---------- network ---------- */
  function ApiError(status, body) {
    this.status = status;
    this.body = body || {};
    var first = (this.body.errors || [])[0] || {};
    this.code = first.cause;
  }
  function request(method, path, body, type, tries) {
    tries = tries === undefined ? 3 : tries;
    var headers = {};
    if (S.token) headers['x-web-session'] = S.token;
    if (body !== undefined) headers['content-type'] = type || 'application/json';
    var payload = body === undefined ? undefined : (type ? body : JSON.stringify(body));
    return fetch(API + path, { method: method, headers: headers, body: payload, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (json) {
          if (!res.ok) throw new ApiError(res.status, json);
          return json;
        });
      }, function (err) {
        if (tries > 1) return delay(600 * (4 - tries)).then(function () { return request(method, path, body, type, tries - 1); });
        throw err;
      });
  }
  function delay(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function failed(err, retry) {
    if (!(err instanceof ApiError) || err.status >= 500) return showError('NETWORK_ERROR', { retry: retry });
    if (err.code === 'SESSION_EXPIRED') return showError('SESSION_TIMEOUT');
    if (err.status === 401 || err.status === 403) return showError('INVALID_SESSION', { callback: false });
    // Any other refusal (a conflict, a quota): the server's state says what to show next.
    if (retry !== poll) return poll();
    showError('NETWORK_ERROR', { retry: retry });
  }

  /* ---------- partner callback (redirect or postMessage) ---------- */
  function callback(status, errorCode) {
    if (S.finished || !S.config || S.config.role !== 'desktop') return;
    S.finished = true;
    stopCamera();
    stopPolling();
    var cb = S.config.callback;
    var fields = { status: status, partner_session_id: cb.partnerSessionId };
    if (status === 'ERROR') fields.error_code = errorCode;
    try { sessionStorage.removeItem(STORE); } catch (e) { /* storage may be off */ }
    if (window.parent !== window) {
      var message = { source: 'facematch', type: 'FACEMATCH_RESULT' };
      Object.keys(fields).forEach(function (k) { message[k] = fields[k]; });
      // Only a listed origin receives it: postMessage drops messages whose targetOrigin does not match.
      cb.frameOrigins.forEach(function (origin) { window.parent.postMessage(message, origin); });
      return;
    }
    var url = new URL(status === 'COMPLETED' ? cb.successUrl : cb.failureUrl);
    Object.keys(fields).forEach(function (k) { url.searchParams.set(k, fields[k]); });
    window.location.replace(url.toString());
  }
  function leave() { callback('ERROR', S.screen === 'error' && S.errorCode ? S.errorCode : 'PENDING'); }

  /* ---------- orientation ---------- */
  var deviceKind = (function () {
    var coarse = window.matchMedia('(pointer: coarse)').matches || navigator.maxTouchPoints > 0;
    if (!coarse) return 'desktop';
    return Math.min(window.screen.width, window.screen.height) < 600 ? 'phone' : 'tablet';
  })();
  function orientationBlocked() {
    if (!S.config || deviceKind === 'desktop') return false; // a desktop cannot be rotated
    var landscape = window.matchMedia('(orientation: landscape)').matches;
    if (!landscape) return false;
    return deviceKind === 'phone' || S.config.portraitOnly;
  }
  function watchOrientation() {
    var update = function () {
      var blocked = orientationBlocked();
      $('rotate').hidden = !blocked;
      $('main').inert = blocked;
      document.body.classList.toggle('blocked', blocked);
    };
    window.matchMedia('(orientation: landscape)').addEventListener('change', update);
    update();
  }

  /* ---------- camera ---------- */
  function hasCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return Promise.resolve(false);
    return navigator.mediaDevices.enumerateDevices().then(function (list) {
      return list.some(function (d) { return d.kind === 'videoinput'; });
    }, function () { return false; });
  }
  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return showError('UNSUPPORTED_BROWSER');
    show('permission');
    navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 720 } } })
      .then(function (stream) {
        S.stream = stream;
        var video = $('video');
        video.srcObject = stream;
        return video.play().catch(function () { /* autoplay of a muted stream is allowed */ });
      })
      .then(function () { if (S.stream) enterCapture(); })
      .catch(function (err) {
        var name = err && err.name;
        if (name === 'NotAllowedError' || name === 'SecurityError') return showError('CAMERA_PERMISSION_DENIED', { retry: startCamera });
        if (name === 'NotFoundError' || name === 'OverconstrainedError') {
          if (S.config.allowQr && S.config.role === 'desktop') return startQr(true);
          return showError('CAMERA_UNAVAILABLE');
        }
        showError('CAMERA_UNAVAILABLE', { retry: startCamera });
      });
  }
  function stopCamera() {
    stopPreview();
    if (S.stream) S.stream.getTracks().forEach(function (track) { track.stop(); });
    S.stream = null;
  }
  function grab(maxWidth, quality) {
    var video = $('video');
    var w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return Promise.resolve(null);
    var scale = Math.min(1, maxWidth / w);
    var canvas = $('frame');
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) { canvas.toBlob(resolve, 'image/jpeg', quality); });
  }

  /* ---------- capture with live guidance ---------- */
  function enterCapture() {
    show('capture');
    setHint('WAIT', false);
    var c = S.config;
    $('attempts').textContent = c.maxAttempts > 1 ? t('capture.attempt', { n: Math.min(c.attemptsUsed + 1, c.maxAttempts), max: c.maxAttempts }) : '';
    startPreview();
  }
  function setHint(hint, ready) {
    if (hint === 'BUSY') return; // the server skipped this frame: keep the last hint
    var el = $('guidance');
    if (el.getAttribute('data-hint') !== hint) {
      el.setAttribute('data-hint', hint);
      el.textContent = t('hint.' + hint);
    }
    el.classList.toggle('ready', !!ready);
    $('oval-ring').classList.toggle('ready', !!ready);
    $('btn-shoot').disabled = !ready;
  }
  function startPreview() {
    if (S.previewing) return;
    S.previewing = true;
    var tick = function () {
      if (!S.previewing) return;
      grab(PREVIEW_WIDTH, 0.7).then(function (blob) {
        if (!blob) return null;
        return request('POST', '/preview', blob, 'image/jpeg', 1).then(function (r) {
          if (S.previewing) setHint(r.hint, r.ready);
        });
      }).catch(function (err) {
        if (err instanceof ApiError && err.status !== 413 && err.status !== 422) { S.previewing = false; return failed(err); }
        if (!(err instanceof ApiError) && S.previewing) setHint('OFFLINE', false);
      }).then(function () { if (S.previewing) setTimeout(tick, PREVIEW_GAP_MS); });
    };
    tick();
  }
  function stopPreview() { S.previewing = false; }
  function shoot() {
    stopPreview();
    grab(1280, 0.92).then(function (blob) {
      if (!blob) return enterCapture();
      S.shot = blob;
      var img = $('review-img');
      if (img.src) URL.revokeObjectURL(img.src);
      img.src = URL.createObjectURL(blob);
      show('review');
    });
  }
  function submitShot() {
    if (!S.shot) return;
    var blob = S.shot;
    show('processing');
    request('POST', '/capture', blob, 'image/jpeg').then(function (r) {
      S.shot = null;
      S.lastSubmission = r.submissionId;
      stopCamera();
      poll();
    }, function (err) {
      if (err instanceof ApiError && err.status === 422 && err.body.hint) {
        // The server found no usable face: no submission was made, back to the camera.
        enterCapture();
        return setHint(err.body.hint, false);
      }
      if (err instanceof ApiError && err.status === 409) return poll();
      failed(err, submitShot);
    });
  }

  /* ---------- progress ---------- */
  function stopPolling() { if (S.polling) clearTimeout(S.polling); S.polling = null; }
  function poll() {
    stopPolling();
    request('GET', '/status').then(function (st) {
      // handleState says whether there is more to wait for; polling never outlives that answer.
      var more = handleState(st);
      var gap = st.phase === 'PROCESSING' ? FAST_POLL_MS : POLL_MS;
      if (more && !S.finished && S.screen !== 'error' && !S.polling) S.polling = setTimeout(poll, gap);
    }, function (err) { failed(err, poll); });
  }
  function handleState(st) {
    S.config.attemptsUsed = st.attemptsUsed;
    if (S.config.role === 'desktop' && S.config.qr) return qrProgress(st);
    if (st.final) { finish(st); return false; }
    if (st.phase === 'PROCESSING') { if (S.screen !== 'processing') show('processing'); return true; }
    if (st.phase === 'REVIEW') { if (S.screen !== 'in-review') show('in-review'); return true; }
    if (st.phase === 'RETRY' && st.submissionId && st.submissionId === S.lastSubmission) {
      $('retry-reason').textContent = t('retry.' + (st.retryReason || 'QUALITY'));
      $('retry-left').textContent = t('retry.left', { n: st.attemptsLeft });
      S.lastSubmission = null;
      show('retry');
      return false;
    }
    if (!S.stream) startFlow();
    return false;
  }
  function finish(st) {
    stopPolling();
    stopCamera();
    if (S.config.role === 'phone') return show('phone-done');
    if (st.nextAction === 'EXIT' || !S.config.showCta) {
      return callback(st.callback.status, st.callback.errorCode);
    }
    var outcome = st.outcome || 'ERROR';
    $('status-icon').className = 'icon ' + (outcome === 'APPROVED' ? 'ok' : 'bad');
    $('status-icon').textContent = outcome === 'APPROVED' ? '✓' : '!';
    $('status-title').textContent = t('status.' + outcome + '.title');
    $('status-text').textContent = t('status.' + outcome + '.text');
    S.finalCallback = st.callback;
    show('status');
  }

  /* ---------- Smart QR (desktop side) ---------- */
  function startQr(noCamera) {
    S.config.qr = true;
    $('qr-intro').textContent = t(noCamera ? 'qr.textNoCamera' : 'qr.text');
    show('qr');
    newCode();
  }
  function newCode() {
    $('btn-qr-new').hidden = true;
    request('POST', '/handoff').then(function (h) {
      $('qr-img').src = h.qrImage;
      $('qr-img').hidden = false;
      S.handoffExpiresAt = h.expiresAt * 1000;
      var time = new Date(S.handoffExpiresAt).toLocaleTimeString(document.documentElement.lang, { hour: '2-digit', minute: '2-digit' });
      $('qr-expiry').textContent = t('qr.expires', { time: time });
      $('qr-state').textContent = t('qr.waiting');
      poll();
    }, function (err) { failed(err, newCode); });
  }
  function qrProgress(st) {
    if (st.final) { finish(st); return false; }
    var h = st.handoff || {};
    var state = $('qr-state');
    if (h.state === 'EXPIRED') {
      $('qr-img').hidden = true;
      $('qr-expiry').textContent = '';
      state.textContent = t('qr.expired');
      $('btn-qr-new').hidden = false;
      $('btn-qr-new').focus();
      return false;
    }
    var key = 'qr.waiting';
    if (h.state === 'REDEEMED') {
      $('qr-img').hidden = true;
      $('qr-expiry').textContent = '';
      key = { PROCESSING: 'qr.processing', RETRY: 'qr.retry', REVIEW: 'qr.review' }[st.phase] || 'qr.scanned';
    }
    var text = t(key);
    if (state.textContent !== text) state.textContent = text;
    return true;
  }

  /* ---------- start ---------- */
  function startFlow() {
    var c = S.config;
    if (c.role === 'desktop' && c.forceQr) return startQr(false);
    if (c.role === 'desktop' && c.allowQr) {
      return hasCamera().then(function (yes) { if (yes) { show('landing'); } else { startQr(true); } });
    }
    show('landing');
  }
  function resume(st) {
    if (st.final) return handleState(st);
    if (S.config.role === 'desktop' && st.handoff && st.handoff.state !== 'NONE') {
      S.config.qr = true;
      show('qr');
      // A reloaded desktop cannot show the old code again (only its hash is kept): make a new one.
      if (st.handoff.state === 'WAITING') return newCode();
      $('qr-img').hidden = true;
      if (handleState(st)) poll();
      return;
    }
    if (st.phase === 'PROCESSING' || st.phase === 'RETRY' || st.phase === 'REVIEW') {
      S.lastSubmission = st.submissionId;
      if (st.phase === 'PROCESSING') show('processing');
      return poll();
    }
    startFlow();
  }
  function boot() {
    if (!window.fetch || !window.Promise || !window.URL || !window.sessionStorage) return showError('UNSUPPORTED_BROWSER');
    var hash = window.location.hash || '';
    var match = /[?&#]token=([^&]+)/.exec(hash);
    var launch = match ? decodeURIComponent(match[1]) : null;
    // Drop the launch token from the address bar (and history) before anything else runs.
    if (hash) history.replaceState(null, '', window.location.pathname);
    if (/link-expired/.test(hash)) return showError('LINK_EXPIRED', { callback: false });
    try { S.token = sessionStorage.getItem(STORE); } catch (e) { return showError('UNSUPPORTED_BROWSER'); }
    var start = launch
      ? request('POST', '/session', { launchToken: launch })
      : request('GET', '/session');
    start.then(function (r) {
      if (r.sessionToken) { S.token = r.sessionToken; sessionStorage.setItem(STORE, r.sessionToken); }
      applyConfig(r.config);
      if (framedByStranger(r.config)) return showError('INVALID_SESSION', { callback: false });
      if (r.config.role === 'desktop' && window.parent === window) guardBack();
      resume(r.state);
    }, function (err) {
      if (err instanceof ApiError && err.code === 'SESSION_EXPIRED') return showError('SESSION_TIMEOUT', { callback: false });
      if (err instanceof ApiError) return showError('INVALID_SESSION', { callback: false });
      showError('NETWORK_ERROR', { retry: function () { window.location.reload(); }, callback: false });
    });
  }
  function framedByStranger(config) {
    // The page's CSP lists every partner's frame origins; this flow may only be framed by its own.
    // A parent whose origin cannot be learnt counts as a stranger: the page does not run.
    if (window.parent === window) return false;
    return config.callback.frameOrigins.indexOf(parentOrigin()) < 0;
  }
  function parentOrigin() {
    var ancestors = window.location.ancestorOrigins;
    if (ancestors && ancestors.length) return ancestors[0];
    // No ancestorOrigins (Firefox): the referrer, i.e. the page that put this frame there (browsers
    // send its origin by default); none (a no-referrer parent) means unknown.
    try { return document.referrer ? new URL(document.referrer).origin : null; } catch (e) { return null; }
  }
  function guardBack() {
    // The contract's PENDING: the user left with the back button.
    history.pushState({ facematch: true }, '', window.location.pathname);
    window.addEventListener('popstate', function () { if (!S.finished) callback('ERROR', 'PENDING'); });
  }

  function wire() {
    $('consent').addEventListener('change', function (e) { $('btn-start').disabled = !e.target.checked; });
    $('btn-start').addEventListener('click', startCamera);
    $('btn-camera').addEventListener('click', startCamera);
    $('btn-shoot').addEventListener('click', shoot);
    $('btn-retake').addEventListener('click', function () { S.shot = null; enterCapture(); });
    $('btn-submit').addEventListener('click', submitShot);
    $('btn-retry').addEventListener('click', function () { if (S.stream) { enterCapture(); } else { startCamera(); } });
    $('btn-done').addEventListener('click', function () { if (S.finalCallback) callback(S.finalCallback.status, S.finalCallback.errorCode); });
    $('btn-qr-new').addEventListener('click', newCode);
    $('btn-error-retry').addEventListener('click', function () { if (S.errorRetry) S.errorRetry(); });
    $('btn-error-leave').addEventListener('click', leave);
    document.querySelectorAll('[data-action="leave"]').forEach(function (el) { el.addEventListener('click', leave); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    translatePage();
    wire();
    boot();
  });
})();
