// Zooming and the time axis of a timeline page; the page reads the same without it, at the whole run's width.
(function () {
  var plot = document.getElementById('plot'), scroll = document.getElementById('scroll');
  var canvas = document.getElementById('canvas'), axis = document.getElementById('axis');
  var D = Math.max(+plot.dataset.duration, 1), start = +plot.dataset.start;
  var first = plot.dataset.first === '' ? null : +plot.dataset.first;
  var span = D;
  var steps = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200, 86400, 604800];
  function visible() {
    var w = canvas.clientWidth;
    return [scroll.scrollLeft / w * D, (scroll.scrollLeft + scroll.clientWidth) / w * D];
  }
  function label(s, step) {
    var iso = new Date(start + s * 1000).toISOString();
    if (step >= 86400) return iso.slice(0, 10);
    if (step >= 60) return iso.slice(5, 10) + ' ' + iso.slice(11, 16);
    return iso.slice(11, 19);
  }
  function drawAxis() {
    var perSec = canvas.clientWidth / D, step = steps[steps.length - 1];
    for (var i = 0; i < steps.length; i++) if (steps[i] * perSec >= 110) { step = steps[i]; break; }
    var v = visible(), html = '';
    for (var s = Math.floor(v[0] / step) * step; s <= v[1]; s += step) {
      html += '<span style="left:' + (s * perSec).toFixed(1) + 'px">' + label(s, step) + '</span>';
    }
    axis.innerHTML = html;
  }
  function zoom(seconds, center) {
    span = Math.min(D, Math.max(seconds, Math.min(D, 60)));
    var w = scroll.clientWidth * D / span;
    canvas.style.width = w + 'px';
    scroll.scrollLeft = Math.max(0, (center - span / 2) / D * w);
    drawAxis();
  }
  function middle() { var v = visible(); return (v[0] + v[1]) / 2; }
  var around = Math.min(D, Math.max(7200, D / 12));
  function home() { if (first === null) zoom(D, D / 2); else zoom(around, first); }
  document.getElementById('first').onclick = home;
  document.getElementById('whole').onclick = function () { zoom(D, D / 2); };
  document.getElementById('in').onclick = function () { zoom(span / 2, middle()); };
  document.getElementById('out').onclick = function () { zoom(span * 2, middle()); };
  document.querySelectorAll('[data-goto]').forEach(function (a) {
    a.onclick = function (e) { e.preventDefault(); zoom(Math.min(span, 3600), +a.dataset.goto); };
  });
  var pending = false;
  scroll.addEventListener('scroll', function () {
    if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; drawAxis(); }); }
  });
  window.addEventListener('resize', function () { zoom(span, middle()); });
  home();
  // `#measure` (tests): each checked element's box as the browser laid it out, for a test reading the DOM.
  if (location.hash === '#measure') {
    document.querySelectorAll('[data-check]').forEach(function (el) {
      var r = el.getBoundingClientRect();
      el.setAttribute('data-box', [r.left, r.right, r.top, r.bottom].map(function (n) { return n.toFixed(1); }).join(','));
    });
    // From navigation to a laid-out page (parsing, styles, layout), for CI's figure.
    document.body.setAttribute('data-opened-ms', Math.round(performance.now()));
  }
})();
