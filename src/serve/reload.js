// careplans serve: reload on rebuild keeping the scroll position, and show the problems of a
// failed rebuild over the last good page. Served only by `careplans serve`, never built.
(function () {
  "use strict";
  var key = "careplans-scroll:" + location.pathname;
  var saved = sessionStorage.getItem(key);
  if (saved !== null) {
    sessionStorage.removeItem(key);
    window.scrollTo(0, parseInt(saved, 10) || 0);
  }

  function overlay(status) {
    var old = document.getElementById("careplans-overlay");
    if (old) old.remove();
    if (status.ok) return;
    var box = document.createElement("section");
    box.id = "careplans-overlay";
    box.setAttribute("role", "alert");
    box.setAttribute("aria-label", "The records have errors");
    box.style.cssText = "position:fixed;left:0;right:0;bottom:0;max-height:60vh;overflow:auto;z-index:9999;" +
      "background:#fff;border-top:6px solid #d5281b;padding:16px 24px;font:16px/1.4 Arial,sans-serif;color:#212b32;" +
      "box-shadow:0 -2px 8px rgba(0,0,0,.3)";
    var title = document.createElement("h2");
    title.textContent = "The last change did not build: " + status.problems.length + " problem(s). The page below is the last good build.";
    title.style.cssText = "font-size:19px;margin:0 0 8px";
    box.appendChild(title);
    var list = document.createElement("ul");
    status.problems.forEach(function (p) {
      var item = document.createElement("li");
      var where = document.createElement("code");
      where.textContent = p.location;
      item.appendChild(where);
      item.appendChild(document.createTextNode(" " + p.code + ": " + p.message));
      if (p.help) {
        var help = document.createElement("div");
        help.textContent = "help: " + p.help;
        help.style.cssText = "color:#4c6272";
        item.appendChild(help);
      }
      list.appendChild(item);
    });
    box.appendChild(list);
    document.body.appendChild(box);
  }

  function check() {
    fetch("/__careplans/status", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(overlay)
      .catch(function () {});
  }

  check();
  var events = new EventSource("/__careplans/events");
  events.addEventListener("reload", function () {
    sessionStorage.setItem(key, String(window.scrollY));
    location.reload();
  });
  events.addEventListener("failed", check);
})();
