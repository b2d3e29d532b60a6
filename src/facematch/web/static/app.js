/* facematch H5 app: the hosted selfie capture flow. No framework, no build step. See docs/web-sdk.md. */
(function () {
  'use strict';

  var API = '/web/api';
  var STORE = 'facematch.session';
  var POLL_MS = 1000; // waiting for the phone of a QR handoff
  var FAST_POLL_MS = 250; // a photo is being verified: the answer is a fraction of a second away

  /* Live guidance on a data budget (docs/web-sdk.md, "Live guidance"). The browser looks at a tiny
     grey thumbnail of the oval's crop every SAMPLE_MS (no upload) and sends a preview frame to the
     server only when the picture changed since the last one it judged, within a byte budget. */
  var PREVIEW_W = 240, PREVIEW_H = 320, PREVIEW_QUALITY = 0.6; // the 3:4 crop the oval is drawn on
  var SAMPLE_MS = 100;
  var THUMB_W = 24, THUMB_H = 32;
  var CHANGE_LEVEL = 6; // mean absolute luminance change (0-255) that counts as "the picture changed"
  var DARK_LEVEL = 14; // a thumbnail this dark (lens covered, lights off) is not worth a frame
  var BUDGET_BYTES_PER_MIN = 0.42 * 1048576;
  var BUDGET_BURST_BYTES = 40 * 1024;
  var IDLE_PAUSE_MS = 60000; // the same hint for a minute: stop until the user touches the page
  var BUSY_RETRY_MS = 400;
  var READY_HOLD_MS = 1000; // auto-capture: READY this long, then the 3-2-1 countdown
  var COUNTDOWN_FROM = 3;

  /* The head-move challenge (a flow that asks for liveness; docs/liveness.md): whole camera frames,
     320 px wide, a JPEG every FRAME_MS while the user moves, within the challenge's byte budget;
     the selfie is taken from the same stream once the server's guidance says the moves are done. */
  var FRAME_W = 320, FRAME_QUALITY = 0.7, FRAME_MS = 250;
  var SELFIE_WAIT_MS = 900; // after the last move: time to face the camera again
  var SELFIE_RETRY_MS = 1200;

  var $ = function (id) { return document.getElementById(id); };
  var S = {
    token: null, config: null, dict: null, screen: 'loading', stream: null,
    shot: null, polling: null, finished: false, lastSubmission: null, handoffExpiresAt: 0, errorCode: null,
    finalCallback: null, qrChosen: false, guide: null, challenge: null
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
  function setLocale(locale) {
    locale = locale === 'en_ID' ? 'en_ID' : 'id_ID';
    S.dict = window.FM_I18N[locale];
    document.documentElement.lang = locale === 'en_ID' ? 'en' : 'id';
  }
  function browserLocale() {
    // Before a session exists: the first of the browser's languages we speak; Indonesian otherwise.
    var langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ''];
    for (var i = 0; i < langs.length; i++) {
      var lang = String(langs[i]).toLowerCase();
      if (lang.indexOf('en') === 0) return 'en_ID';
      if (lang.indexOf('id') === 0 || lang.indexOf('in') === 0) return 'id_ID';
    }
    return 'id_ID';
  }
  function tokenLocale(token) {
    // The launch token's payload names the flow's language (``loc``); only the language is read, and
    // nothing is trusted from it.
    try {
      var part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      var loc = JSON.parse(atob(part + '==='.slice((part.length + 3) % 4))).loc;
      return loc === 'en_ID' || loc === 'id_ID' ? loc : null;
    } catch (e) { return null; }
  }
  function applyTheme(theme) {
    document.documentElement.setAttribute('data-theme', { DARK_MODE: 'dark', LIGHT_MODE: 'light' }[theme] || 'auto');
  }
  function formatTime(ms) {
    // 24-hour time in both languages (Indonesian writes 15.45, English here 15:45)
    var d = new Date(ms), pad = function (n) { return (n < 10 ? '0' : '') + n; };
    return pad(d.getHours()) + (S.dict === window.FM_I18N.en_ID ? ':' : '.') + pad(d.getMinutes());
  }
  function applyConfig(config) {
    S.config = config;
    setLocale(config.locale);
    applyTheme(config.theme);
    $('partner-name').textContent = config.partnerName;
    $('env-badge').hidden = config.environment !== 'sandbox';
    $('btn-done').hidden = !config.showCta;
    // The phone of a QR handoff has no partner page to return to: the desktop calls back.
    document.querySelectorAll('[data-action="leave"]').forEach(function (el) { el.hidden = config.role !== 'desktop'; });
    document.querySelectorAll('[data-action="phone"]').forEach(function (el) { el.hidden = !canChoosePhone(); });
    translatePage();
    var days = config.retentionDays;
    $('privacy-keep').textContent = t('privacy.keep', { days: t(days === 1 ? 'privacy.day' : 'privacy.days', { n: days }) });
    var link = $('privacy-link');
    link.hidden = !config.privacyUrl;
    if (config.privacyUrl) {
      link.href = config.privacyUrl;
      link.textContent = t('privacy.link') + ' ' + t('privacy.newTab');
    }
    watchOrientation();
  }

  /* ---------- screens ---------- */
  function show(name) {
    document.querySelectorAll('.screen').forEach(function (el) { el.hidden = el.id !== 'screen-' + name; });
    S.screen = name;
    if (name !== 'capture') stopGuidance();
    if (name !== 'challenge') stopChallenge();
    var heading = document.querySelector('#screen-' + name + ' h1');
    var main = $('main');
    window.scrollTo(0, 0);
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
    // Without a session the partner's URLs are unknown: nothing to call back; the browser's own
    // history is the way back when there is one, else the text says what to do.
    var canCall = !!(S.config && S.config.role === 'desktop' && opts.callback !== false);
    $('btn-error-leave').hidden = !canCall;
    $('btn-error-back').hidden = canCall || window.parent !== window || window.history.length < 2;
    show('error');
  }

  /* ---------- network ---------- */
  function ApiError(status, body, retryAfter) {
    this.status = status;
    this.body = body || {};
    this.retryAfter = Number(retryAfter) || 0;
    var first = (this.body.errors || [])[0] || {};
    this.code = first.cause;
  }
  function request(method, path, body, type, tries, extra) {
    tries = tries === undefined ? 3 : tries;
    var headers = {};
    if (S.token) headers['x-web-session'] = S.token;
    if (extra) Object.keys(extra).forEach(function (k) { headers[k] = extra[k]; });
    if (body !== undefined) headers['content-type'] = type || 'application/json';
    var payload = body === undefined ? undefined : (type ? body : JSON.stringify(body));
    return fetch(API + path, { method: method, headers: headers, body: payload, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (json) {
          if (!res.ok) throw new ApiError(res.status, json, res.headers.get('retry-after'));
          return json;
        });
      }, function (err) {
        if (tries > 1) return delay(600 * (4 - tries)).then(function () { return request(method, path, body, type, tries - 1, extra); });
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
    if (window.parent !== window) {
      var message = { source: 'facematch', type: 'FACEMATCH_RESULT' };
      Object.keys(fields).forEach(function (k) { message[k] = fields[k]; });
      // Only a listed origin receives it: postMessage drops messages whose targetOrigin does not match.
      cb.frameOrigins.forEach(function (origin) { window.parent.postMessage(message, origin); });
      // The partner's page takes over; until it does, say so instead of leaving a dead button.
      var done = status === 'COMPLETED';
      $('sent-icon').className = 'icon ' + (done ? 'ok' : 'warn');
      $('sent-icon').textContent = done ? '✓' : '!';
      $('sent-title').textContent = t('sent.' + (done ? 'COMPLETED' : 'ERROR') + '.title');
      $('sent-text').textContent = t('sent.' + (done ? 'COMPLETED' : 'ERROR') + '.text');
      return show('sent');
    }
    // The web session stays in this tab's storage: coming back here (Back) reports the same truth.
    var url = new URL(status === 'COMPLETED' ? cb.successUrl : cb.failureUrl);
    Object.keys(fields).forEach(function (k) { url.searchParams.set(k, fields[k]); });
    window.location.replace(url.toString());
  }
  function leave() {
    // Cancel, Leave, "Back to …" on an error, and the browser's Back button. Once the flow is final,
    // every way out reports its final status, exactly as the status screen's button does; PENDING
    // (or the error screen's own code) only while it is not. The server is asked, since the flow may
    // have ended since the app last looked.
    if (S.finished || S.leaving) return;
    if (S.finalCallback) return callback(S.finalCallback.status, S.finalCallback.errorCode);
    S.leaving = true;
    var unfinished = S.screen === 'error' && S.errorCode ? S.errorCode : 'PENDING';
    request('GET', '/status', undefined, undefined, 1).then(function (st) {
      if (st.final) return callback(st.callback.status, st.callback.errorCode);
      callback('ERROR', unfinished);
    }, function () { callback('ERROR', unfinished); });
  }

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
  function canChoosePhone() {
    // "Continue on my phone": a desktop (not a phone or tablet) of a flow that allows Smart QR.
    var c = S.config;
    return !!(c && c.role === 'desktop' && c.allowQr && !c.forceQr && deviceKind === 'desktop');
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
      .then(function () { if (S.stream) enterCamera(); })
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
    stopGuidance();
    stopChallenge();
    if (S.stream) S.stream.getTracks().forEach(function (track) { track.stop(); });
    S.stream = null;
  }
  function grab(canvas, width, height, crop) {
    // Draw the camera frame into ``canvas`` (width x height); ``crop``: only the 3:4 centre the oval
    // is drawn on (what the user sees), else the whole frame scaled to ``width``.
    var video = $('video');
    var w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return null;
    var sx = 0, sy = 0, sw = w, sh = h;
    if (crop) {
      if (w / h > 3 / 4) { sw = h * 3 / 4; sx = (w - sw) / 2; } else { sh = w * 4 / 3; sy = (h - sh) / 2; }
    } else {
      var scale = Math.min(1, width / w);
      width = Math.round(w * scale);
      height = Math.round(h * scale);
    }
    canvas.width = width;
    canvas.height = height;
    var ctx = canvas.getContext('2d', { willReadFrequently: crop && width <= THUMB_W });
    ctx.drawImage(video, sx, sy, sw, sh, 0, 0, width, height);
    return ctx;
  }
  function jpeg(canvas, quality) { return new Promise(function (resolve) { canvas.toBlob(resolve, 'image/jpeg', quality); }); }

  /* ---------- the head-move challenge ---------- */
  function enterCamera() { return S.config.liveness ? enterChallenge() : enterCapture(); }
  function placeStage(screen) {
    // One camera stage (video, oval, cues) for both screens: it moves to the one being shown.
    var stage = document.querySelector('.stage');
    var heading = $('screen-' + screen).querySelector('h1');
    if (stage.parentNode !== heading.parentNode) heading.parentNode.insertBefore(stage, heading.nextSibling);
    var video = $('video');
    if (video.paused && video.srcObject) video.play().catch(function () { /* a muted stream may autoplay */ });
  }
  function enterChallenge() {
    placeStage('challenge');
    show('challenge');
    var c = S.config;
    $('challenge-attempts').textContent = c.maxAttempts > 1 ? t('capture.attempt', { n: Math.min(c.attemptsUsed + 1, c.maxAttempts), max: c.maxAttempts }) : '';
    say(t('challenge.ready'), null);
    request('POST', '/liveness/challenge').then(function (r) {
      if (S.screen !== 'challenge') return;
      S.challenge = {
        nonce: r.nonce, moves: r.moves, budget: r.budgetBytes, frameMax: r.frameMaxBytes, sent: 0,
        timer: null, done: false, shooting: false, canvas: document.createElement('canvas'), shown: null
      };
      nextFrame(0);
    }, function (err) { failed(err, enterChallenge); });
  }
  function stopChallenge() {
    var ch = S.challenge;
    if (!ch) return;
    clearTimeout(ch.timer);
    S.challenge = null;
    $('move-cue').className = 'cue';
  }
  function say(text, move) {
    // Text and animation of the current step; the live region speaks only when the text changes.
    var el = $('challenge-say');
    if (el.textContent !== text) el.textContent = text;
    $('move-cue').className = 'cue' + (move ? ' ' + move.toLowerCase().replace('_', '-') : '');
  }
  function nextFrame(ms) {
    var ch = S.challenge;
    if (!ch || ch.done) return;
    clearTimeout(ch.timer);
    ch.timer = setTimeout(sendFrame, ms);
  }
  function sendFrame() {
    var ch = S.challenge;
    if (!ch || ch.done || S.screen !== 'challenge') return;
    var started = Date.now();
    if (!grab(ch.canvas, FRAME_W, 0, false)) return nextFrame(FRAME_MS);
    jpeg(ch.canvas, FRAME_QUALITY).then(function (blob) {
      if (S.challenge !== ch || ch.done) return null;
      if (!blob || blob.size > ch.frameMax) return nextFrame(FRAME_MS);
      if (ch.sent + blob.size > ch.budget) return endChallenge(ch);
      ch.sent += blob.size;
      return request('POST', '/liveness/frame', blob, 'image/jpeg', 1, { 'x-liveness-nonce': ch.nonce }).then(function (r) {
        if (S.challenge !== ch || ch.done) return;
        if (r.offTrack || r.nextMove === null || r.expiresInSeconds <= 0) return endChallenge(ch, r);
        if (r.faces !== 1) say(t('challenge.oneFace'), null);
        else say(t('challenge.step', { n: r.completed + 1, max: ch.moves.length }) + ' ' + t('move.' + r.nextMove), r.nextMove);
        nextFrame(Math.max(0, FRAME_MS - (Date.now() - started)));
      });
    }).catch(function (err) {
      if (S.challenge !== ch) return;
      if (err instanceof ApiError && err.status === 409) return endChallenge(ch); // the challenge is over
      if (err instanceof ApiError && err.status === 429) return nextFrame(1000 * (err.retryAfter || 1));
      if (err instanceof ApiError && err.status < 500 && err.status !== 401 && err.status !== 403) return nextFrame(FRAME_MS);
      if (!(err instanceof ApiError)) return nextFrame(FRAME_MS * 2); // the network: try the next frame
      stopChallenge();
      failed(err);
    });
  }
  function endChallenge(ch, r) {
    // The moves are done, or can no longer be (off track, out of time or bytes): the selfie closes
    // the challenge either way. The server judges it; a failed challenge is a retry, not a loop.
    ch.done = true;
    clearTimeout(ch.timer);
    var finished = r && r.nextMove === null && !r.offTrack;
    say(t(finished ? 'challenge.hold' : 'challenge.look'), null);
    ch.timer = setTimeout(function () { shootChallenge(ch); }, SELFIE_WAIT_MS);
  }
  function shootChallenge(ch) {
    if (S.challenge !== ch || ch.shooting) return;
    var canvas = $('frame');
    if (!grab(canvas, 1280, 0, false)) { ch.timer = setTimeout(function () { shootChallenge(ch); }, SELFIE_RETRY_MS); return; }
    ch.shooting = true;
    jpeg(canvas, 0.92).then(function (blob) {
      if (!blob || S.challenge !== ch) return null;
      return request('POST', '/capture', blob, 'image/jpeg', 3, { 'x-liveness-nonce': ch.nonce }).then(function (r) {
        S.lastSubmission = r.submissionId;
        stopCamera();
        show('processing');
        poll();
      });
    }).catch(function (err) {
      if (S.challenge !== ch) return;
      ch.shooting = false;
      if (err instanceof ApiError && err.status === 422 && err.body.hint) {
        // no usable face in this one: say what to fix and take the next
        say(t('hint.' + err.body.hint), null);
        ch.timer = setTimeout(function () { shootChallenge(ch); }, SELFIE_RETRY_MS);
        return;
      }
      if (err instanceof ApiError && err.status === 429) { ch.timer = setTimeout(function () { shootChallenge(ch); }, 1000 * (err.retryAfter || 2)); return; }
      if (err instanceof ApiError && err.status === 409) return poll(); // answered elsewhere: the state says what next
      stopChallenge();
      failed(err, enterCamera);
    });
  }

  /* ---------- capture with live guidance ---------- */
  function enterCapture() {
    placeStage('capture');
    show('capture');
    setHint('WAIT', false);
    var c = S.config;
    $('attempts').textContent = c.maxAttempts > 1 ? t('capture.attempt', { n: Math.min(c.attemptsUsed + 1, c.maxAttempts), max: c.maxAttempts }) : '';
    startGuidance();
  }
  function setHint(hint, ready) {
    if (hint === 'BUSY') return; // the server skipped this frame: keep the last hint
    var el = $('guidance');
    var shown = hint === 'READY' && S.config && S.config.autoCapture ? 'READY_AUTO' : hint;
    if (el.getAttribute('data-hint') !== hint) {
      el.setAttribute('data-hint', hint);
      el.textContent = t('hint.' + shown);
    }
    el.classList.toggle('ready', !!ready);
    el.classList.toggle('paused', hint === 'PAUSED');
    $('oval-ring').classList.toggle('ready', !!ready);
    $('btn-shoot').disabled = !ready;
  }
  function thumbnail() {
    var ctx = grab(S.guide.thumbCanvas, THUMB_W, THUMB_H, true);
    if (!ctx) return null;
    var px = ctx.getImageData(0, 0, THUMB_W, THUMB_H).data;
    var luma = new Uint8Array(THUMB_W * THUMB_H);
    for (var i = 0, j = 0; j < luma.length; i += 4, j++) luma[j] = (px[i] * 77 + px[i + 1] * 150 + px[i + 2] * 29) >> 8;
    return luma;
  }
  function difference(a, b) {
    if (!a || !b) return Infinity;
    var sum = 0;
    for (var i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
    return sum / a.length;
  }
  function brightness(a) {
    var sum = 0;
    for (var i = 0; i < a.length; i++) sum += a[i];
    return sum / a.length;
  }
  function startGuidance() {
    stopGuidance();
    S.guide = {
      timer: null, inFlight: false, judged: null, judgedReady: false, pending: true, lastChange: Date.now(),
      budget: BUDGET_BURST_BYTES, budgetAt: Date.now(), readySince: 0, countdown: null, paused: false, retryAt: 0,
      thumbCanvas: document.createElement('canvas'), frameCanvas: $('frame'), lastHint: null
    };
    if (!document.hidden) scheduleGuidance(0);
  }
  function stopGuidance() {
    var g = S.guide;
    if (!g) return;
    clearTimeout(g.timer);
    cancelCountdown();
    S.guide = null;
  }
  function scheduleGuidance(ms) {
    var g = S.guide;
    if (!g || g.paused || document.hidden) return;
    clearTimeout(g.timer);
    g.timer = setTimeout(guideTick, ms);
  }
  function guideTick() {
    var g = S.guide;
    if (!g || S.screen !== 'capture' || document.hidden || g.paused) return;
    var now = Date.now();
    g.budget = Math.min(BUDGET_BURST_BYTES, g.budget + (now - g.budgetAt) * BUDGET_BYTES_PER_MIN / 60000);
    g.budgetAt = now;
    if (now - g.lastChange > IDLE_PAUSE_MS && !g.countdown) return pauseGuidance();
    var thumb = thumbnail();
    if (thumb) {
      var changed = difference(thumb, g.judged) > CHANGE_LEVEL;
      if (changed) g.pending = true; // (only a new hint or a touch restarts the idle clock)
      if (changed && g.countdown) cancelCountdown(); // the user moved: judge again before any photo
      if (g.pending && brightness(thumb) < DARK_LEVEL) {
        // Far too dark to judge: say so here and spend nothing on it.
        g.judged = thumb; g.pending = false; g.judgedReady = false;
        setHint('MORE_LIGHT', false);
      } else if (g.pending && !g.inFlight && now >= g.retryAt && g.budget > 0) {
        sendPreview(thumb);
      }
      autoCapture(now, changed);
    }
    scheduleGuidance(SAMPLE_MS);
  }
  function sendPreview(thumb) {
    var g = S.guide;
    if (!grab(g.frameCanvas, PREVIEW_W, PREVIEW_H, true)) return;
    g.inFlight = true;
    g.pending = false;
    jpeg(g.frameCanvas, PREVIEW_QUALITY).then(function (blob) {
      if (!blob || S.guide !== g) return null;
      g.budget -= blob.size;
      return request('POST', '/preview', blob, 'image/jpeg', 1).then(function (r) {
        if (S.guide !== g || g.paused) return;
        if (r.hint === 'BUSY') { g.pending = true; g.retryAt = Date.now() + BUSY_RETRY_MS; return; }
        g.judged = thumb;
        g.judgedReady = !!r.ready;
        if (r.hint !== g.lastHint) { g.lastHint = r.hint; g.lastChange = Date.now(); }
        setHint(r.hint, r.ready);
      });
    }).catch(function (err) {
      if (S.guide !== g) return;
      g.pending = true;
      if (err instanceof ApiError && err.status === 429) {
        // the server's own limit: wait as long as it asks, keep the last hint
        g.retryAt = Date.now() + 1000 * (err.retryAfter || 2);
        return;
      }
      if (err instanceof ApiError && err.status !== 413 && err.status !== 422) { stopGuidance(); return failed(err); }
      g.retryAt = Date.now() + 1500;
      if (!(err instanceof ApiError)) setHint('OFFLINE', false);
    }).then(function () { if (S.guide === g) g.inFlight = false; });
  }
  function pauseGuidance() {
    var g = S.guide;
    if (!g) return;
    g.paused = true;
    clearTimeout(g.timer);
    setHint('PAUSED', false);
  }
  function resumeGuidance() {
    var g = S.guide;
    if (!g) return;
    g.lastChange = Date.now();
    if (!g.paused) return;
    g.paused = false;
    g.pending = true;
    g.lastHint = null;
    setHint('WAIT', false);
    scheduleGuidance(0);
  }

  /* ---------- auto-capture: READY for a second, then 3-2-1 ---------- */
  function autoCapture(now, changed) {
    var g = S.guide;
    var ready = g.judgedReady && !g.pending && !changed;
    if (!ready) { g.readySince = 0; if (g.countdown) cancelCountdown(); return; }
    if (!S.config.autoCapture || g.countdown) return;
    if (!g.readySince) g.readySince = now;
    if (now - g.readySince >= READY_HOLD_MS) startCountdown();
  }
  function startCountdown() {
    var g = S.guide;
    g.countdown = { n: COUNTDOWN_FROM, timer: null };
    var step = function () {
      if (S.guide !== g || !g.countdown) return;
      if (g.countdown.n === 0) { cancelCountdown(); return shoot(); }
      $('countdown').hidden = false;
      $('countdown').textContent = String(g.countdown.n);
      $('countdown-say').textContent = t('capture.countdown', { n: g.countdown.n });
      g.countdown.n -= 1;
      g.countdown.timer = setTimeout(step, 1000);
    };
    step();
  }
  function cancelCountdown() {
    var g = S.guide;
    if (g && g.countdown) { clearTimeout(g.countdown.timer); g.countdown = null; g.readySince = 0; }
    $('countdown').hidden = true;
    $('countdown-say').textContent = '';
  }

  function shoot() {
    stopGuidance();
    var canvas = $('frame');
    if (!grab(canvas, 1280, 0, false)) return enterCapture();
    jpeg(canvas, 0.92).then(function (blob) {
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
      // the server's own limit: the photo is kept and sent again once it allows
      if (err instanceof ApiError && err.status === 429) return delay(1000 * (err.retryAfter || 2)).then(submitShot);
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
  function handleState(st, reentry) {
    S.config.attemptsUsed = st.attemptsUsed;
    if (S.config.role === 'desktop' && S.config.qr) return qrProgress(st);
    if (st.final) { finish(st, reentry); return false; }
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
  function finish(st, reentry) {
    stopPolling();
    stopCamera();
    S.finalCallback = st.callback;
    if (S.config.role === 'phone') return show('phone-done');
    // Reached just now with the status screen hidden (EXIT): straight back to the partner. Reached
    // again (a reload, Back, the launch URL re-opened): the status screen, with its button.
    if (!reentry && (st.nextAction === 'EXIT' || !S.config.showCta)) {
      return callback(st.callback.status, st.callback.errorCode);
    }
    var outcome = st.outcome || 'ERROR';
    $('status-icon').className = 'icon ' + (outcome === 'APPROVED' ? 'ok' : 'bad');
    $('status-icon').textContent = outcome === 'APPROVED' ? '✓' : '!';
    $('status-title').textContent = t('status.' + outcome + '.title');
    $('status-text').textContent = t('status.' + outcome + '.text');
    $('btn-done').hidden = false;
    show('status');
  }

  /* ---------- Smart QR (desktop side) ---------- */
  function startQr(noCamera, chosen) {
    stopCamera();
    S.config.qr = true;
    S.qrChosen = !!chosen;
    $('qr-intro').textContent = t(noCamera ? 'qr.textNoCamera' : 'qr.text');
    $('btn-qr-back').hidden = !chosen;
    show('qr');
    newCode();
  }
  function newCode() {
    $('btn-qr-new').hidden = true;
    $('qr-copied').textContent = '';
    request('POST', '/handoff').then(function (h) {
      $('qr-img').src = h.qrImage;
      $('qr-img').hidden = false;
      $('qr-link').value = h.link;
      $('qr-link-box').hidden = false;
      S.handoffExpiresAt = h.expiresAt * 1000;
      $('qr-expiry').textContent = t('qr.expires', { time: formatTime(S.handoffExpiresAt) });
      $('qr-state').textContent = t('qr.waiting');
      poll();
    }, function (err) { failed(err, newCode); });
  }
  function hideCode() {
    $('qr-img').hidden = true;
    $('qr-expiry').textContent = '';
    $('qr-link-box').hidden = true;
    $('qr-link').value = '';
  }
  function copyLink() {
    var input = $('qr-link');
    var said = function (key) { $('qr-copied').textContent = t(key); };
    var fallback = function () {
      input.focus();
      input.select();
      try { said(document.execCommand('copy') ? 'qr.copied' : 'qr.copyFailed'); } catch (e) { said('qr.copyFailed'); }
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(function () { said('qr.copied'); }, fallback);
    } else {
      fallback();
    }
  }
  function backFromQr() {
    // The user takes the flow back to this device: the unused code stops working.
    stopPolling();
    request('DELETE', '/handoff').then(function () {
      S.config.qr = false;
      hideCode();
      show('landing');
    }, function (err) { failed(err, backFromQr); });
  }
  function qrProgress(st) {
    if (st.final) { finish(st); return false; }
    var h = st.handoff || {};
    var state = $('qr-state');
    if (h.state === 'EXPIRED') {
      hideCode();
      state.textContent = t('qr.expired');
      $('btn-qr-new').hidden = false;
      $('btn-qr-new').focus();
      return false;
    }
    var key = 'qr.waiting';
    if (h.state === 'REDEEMED') {
      hideCode();
      $('btn-qr-back').hidden = true;
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
    if (st.final) return handleState(st, true);
    if (S.config.role === 'desktop' && st.handoff && st.handoff.state !== 'NONE' && st.handoff.state !== 'EXPIRED') {
      S.config.qr = true;
      show('qr');
      // A reloaded desktop cannot show the old code again (only its hash is kept): make a new one.
      if (st.handoff.state === 'WAITING') return newCode();
      hideCode();
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
  function refused(err) {
    // No session: an expired link still names its flow (the server says where to go back to and
    // what to report); anything else gets a final message in the language we could find.
    var way = err instanceof ApiError && err.body.data && err.body.data.exit;
    if (way) {
      S.config = { role: 'desktop', partnerName: way.partnerName, callback: way.callback, showCta: true };
      setLocale(way.locale);
      applyTheme(way.theme);
      $('partner-name').textContent = way.partnerName;
      translatePage();
      S.finalCallback = { status: way.status, errorCode: way.errorCode };
      var finished = way.status === 'COMPLETED' || way.errorCode !== 'SESSION_TIMEOUT';
      return showError(finished ? 'FINISHED' : 'SESSION_TIMEOUT');
    }
    if (err instanceof ApiError && err.code === 'SESSION_EXPIRED') return showError('SESSION_TIMEOUT', { callback: false });
    if (err instanceof ApiError) return showError('INVALID_SESSION', { callback: false });
    showError('NETWORK_ERROR', { retry: function () { window.location.reload(); }, callback: false });
  }
  function boot() {
    if (!window.fetch || !window.Promise || !window.URL || !window.sessionStorage) return showError('UNSUPPORTED_BROWSER');
    var hash = window.location.hash || '';
    var match = /[?&#]token=([^&]+)/.exec(hash);
    var launch = match ? decodeURIComponent(match[1]) : null;
    var named = /[?&]locale=(id_ID|en_ID)/.exec(hash);
    // Before any session: the flow's language when the link names it, else the browser's.
    setLocale((launch && tokenLocale(launch)) || (named && named[1]) || browserLocale());
    translatePage();
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
      if (window.parent === window && err instanceof ApiError && err.body.data && err.body.data.exit) guardBack();
      refused(err);
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
    // The browser's Back button leaves the flow: it reports what leaving reports (see leave()).
    history.pushState({ facematch: true }, '', window.location.pathname);
    window.addEventListener('popstate', function () {
      // A launch link pasted into this tab changes only the fragment: start over with it.
      if (/[?&#]token=/.test(window.location.hash)) return window.location.reload();
      if (!S.finished) leave();
    });
  }

  function wire() {
    $('consent').addEventListener('change', function (e) { $('btn-start').disabled = !e.target.checked; });
    $('btn-start').addEventListener('click', startCamera);
    $('btn-camera').addEventListener('click', startCamera);
    $('btn-shoot').addEventListener('click', function () { cancelCountdown(); shoot(); });
    $('btn-retake').addEventListener('click', function () { S.shot = null; enterCapture(); });
    $('btn-submit').addEventListener('click', submitShot);
    $('btn-retry').addEventListener('click', function () { if (S.stream) { enterCamera(); } else { startCamera(); } });
    $('btn-done').addEventListener('click', function () { if (S.finalCallback) callback(S.finalCallback.status, S.finalCallback.errorCode); });
    $('btn-qr-new').addEventListener('click', newCode);
    $('btn-qr-back').addEventListener('click', backFromQr);
    $('btn-copy').addEventListener('click', copyLink);
    $('btn-error-retry').addEventListener('click', function () { if (S.errorRetry) S.errorRetry(); });
    $('btn-error-leave').addEventListener('click', leave);
    $('btn-error-back').addEventListener('click', function () { window.history.back(); });
    document.querySelectorAll('[data-action="leave"]').forEach(function (el) { el.addEventListener('click', leave); });
    document.querySelectorAll('[data-action="phone"]').forEach(function (el) {
      el.addEventListener('click', function () { startQr(false, true); });
    });
    // Guidance pauses while the tab is hidden and after a minute without change; a touch resumes it.
    document.addEventListener('visibilitychange', function () {
      if (!S.guide) return;
      if (document.hidden) { clearTimeout(S.guide.timer); cancelCountdown(); } else { resumeGuidance(); scheduleGuidance(0); }
    });
    ['pointerdown', 'keydown', 'touchstart'].forEach(function (type) {
      document.addEventListener(type, resumeGuidance, { passive: true });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    translatePage();
    wire();
    boot();
  });
})();
