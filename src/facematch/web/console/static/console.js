/* facematch console: keyboard shortcuts of the review page (a: approve, r: reject, n: next item),
   confirmation of dangerous buttons, "select all" on the callback list. No third-party code. */
(function () {
  'use strict';
  function typing(event) {
    var el = event.target;
    return el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
  }
  function choose(value) {
    var radio = document.querySelector('input[name="outcome"][value="' + value + '"]');
    if (!radio) return;
    radio.checked = true;
    radio.dispatchEvent(new Event('change', { bubbles: true }));
    var target = value === 'reject' ? document.getElementById('reason-code') : document.getElementById('note');
    if (target) target.focus();
  }
  document.addEventListener('keydown', function (event) {
    if (event.altKey || event.metaKey) return;
    var form = document.getElementById('decision-form');
    if (form && (event.ctrlKey || event.metaKey) && event.key === 'Enter') {
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    if (event.ctrlKey || typing(event)) return;
    if (event.key === 'a' && form) { event.preventDefault(); choose('approve'); }
    else if (event.key === 'r' && form) { event.preventDefault(); choose('reject'); }
    else if (event.key === 'n') {
      var next = document.getElementById('next-form');
      if (next) { event.preventDefault(); next.requestSubmit(); }
    }
  });
  document.addEventListener('change', function (event) {
    var el = event.target;
    if (el && el.name === 'outcome') {
      var reason = document.getElementById('reason-row');
      if (reason) reason.hidden = el.value !== 'reject';
    }
    if (el && el.id === 'select-all') {
      document.querySelectorAll('input[name="message"]').forEach(function (box) { box.checked = el.checked; });
    }
  });
  document.addEventListener('submit', function (event) {
    var button = event.submitter;
    var text = (button && button.getAttribute('data-confirm')) || event.target.getAttribute('data-confirm');
    if (text && !window.confirm(text)) event.preventDefault();
  });
})();
