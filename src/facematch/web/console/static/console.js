/* facematch console: the review page's keyboard shortcuts (a approve, r reject, 1-4 the reason,
   Ctrl+Enter decide and open the next item, n leave this one and open the next), its claim
   (countdown, renewed while the page is in use, released on leaving), confirmation of dangerous
   buttons, "select all" on the callback list. No third-party code. */
(function () {
  'use strict';
  function typing(event) {
    var el = event.target;
    return el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
  }
  function showReason() {
    var reject = document.getElementById('outcome-reject');
    var row = document.getElementById('reason-row');
    if (row) row.hidden = !(reject && reject.checked);
  }
  function choose(value) {
    var radio = document.querySelector('input[name="outcome"][value="' + value + '"]');
    if (!radio) return;
    radio.checked = true;
    showReason();
    var target = value === 'reject' ? document.getElementById('reason-code') : document.getElementById('note');
    if (target) target.focus();
  }
  function reason(index) {
    var select = document.getElementById('reason-code');
    var reject = document.getElementById('outcome-reject');
    if (!select || !reject || !reject.checked || index >= select.options.length) return false;
    select.selectedIndex = index;
    var note = document.getElementById('note');
    if (note) note.focus();
    return true;
  }

  // ---- the claim of the item on the review page
  var claim = document.getElementById('claim');
  var leaving = false;
  if (claim) {
    var csrf = claim.getAttribute('data-csrf');
    var endsAt = Date.now() + 1000 * Number(claim.getAttribute('data-seconds'));
    var every = 1000 * Number(claim.getAttribute('data-renew-every'));
    var active = false;
    var left = document.getElementById('claim-left');
    var until = document.getElementById('claim-until');
    var lost = function (text) {
      claim.className = 'notice bad';
      claim.textContent = text;
      var form = document.getElementById('decision-form');
      if (form) form.querySelectorAll('button, input, select, textarea').forEach(function (el) { el.disabled = true; });
    };
    var tick = function () {
      var seconds = Math.max(0, Math.round((endsAt - Date.now()) / 1000));
      if (left) left.textContent = Math.floor(seconds / 60) + ':' + String(seconds % 60).padStart(2, '0');
      claim.classList.toggle('ending', seconds < 60);
      if (seconds === 0) lost('Your reservation ran out: another reviewer may have this item now. Reload the page to see.');
      return seconds;
    };
    var renew = function () {
      if (!active || leaving) return;
      active = false;
      fetch(claim.getAttribute('data-renew'), { method: 'POST', headers: { 'x-csrf-token': csrf }, credentials: 'same-origin' })
        .then(function (answer) {
          if (answer.status === 409) { lost('Another reviewer has this item now: your decision would not count.'); return null; }
          return answer.ok ? answer.json() : null;
        })
        .then(function (body) {
          if (!body) return;
          endsAt = Date.now() + 1000 * body.seconds;
          if (until) until.textContent = body.label;
          tick();
        })
        .catch(function () { /* offline for a moment: the countdown says how long is left */ });
    };
    ['keydown', 'pointerdown', 'pointermove', 'scroll', 'input', 'focus'].forEach(function (name) {
      window.addEventListener(name, function () { active = true; }, { passive: true, capture: true });
    });
    var timer = window.setInterval(function () { if (tick() === 0) window.clearInterval(timer); }, 1000);
    window.setInterval(renew, every);
    window.addEventListener('pagehide', function () {
      if (leaving) return;
      fetch(claim.getAttribute('data-release'), { method: 'POST', keepalive: true, headers: { 'x-csrf-token': csrf }, credentials: 'same-origin' })
        .catch(function () { /* the claim runs out by itself */ });
    });
    tick();
  }

  document.addEventListener('keydown', function (event) {
    if (event.altKey || event.metaKey) return;
    var form = document.getElementById('decision-form');
    if (form && event.ctrlKey && event.key === 'Enter') {
      event.preventDefault();
      var next = document.getElementById('decide-next');
      form.requestSubmit(next || undefined);
      return;
    }
    if (event.ctrlKey || typing(event)) return;
    if (event.key === 'a' && form) { event.preventDefault(); choose('approve'); }
    else if (event.key === 'r' && form) { event.preventDefault(); choose('reject'); }
    else if (form && /^[1-9]$/.test(event.key) && reason(Number(event.key) - 1)) { event.preventDefault(); }
    else if (event.key === 'n') {
      var nextForm = document.getElementById('next-form');
      if (nextForm) { event.preventDefault(); leaving = true; nextForm.requestSubmit(); }
    }
  });
  document.addEventListener('change', function (event) {
    var el = event.target;
    if (el && el.name === 'outcome') showReason();
    if (el && el.id === 'select-all') {
      document.querySelectorAll('input[name="message"]').forEach(function (box) { box.checked = el.checked; });
    }
  });
  document.addEventListener('submit', function (event) {
    var button = event.submitter;
    var text = (button && button.getAttribute('data-confirm')) || event.target.getAttribute('data-confirm');
    if (text && !window.confirm(text)) { event.preventDefault(); return; }
    if (event.target.id === 'decision-form' || event.target.id === 'next-form') leaving = true;
  });
  showReason();
})();
