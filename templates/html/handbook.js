/* The web edition's only script (the EPUB has none): the self-test switch, "/" to search, a permalink
   on each question, diagrams opened full size, and the search page. Works from file:// and fetches
   nothing: the search index is search-index.js, loaded by the search page's own <script>. */
(function () {
  "use strict";
  var SELF_TEST = "handbook-self-test";
  var root = document.documentElement;
  root.classList.add("scripted");  // hides the "search needs scripts" note (no <noscript> in XHTML)

  function remembered() {
    try { return window.localStorage.getItem(SELF_TEST) === "on"; } catch (e) { return false; }
  }
  function remember(on) {
    try { window.localStorage.setItem(SELF_TEST, on ? "on" : "off"); } catch (e) { /* private mode */ }
  }
  // Before the first paint, so that answers do not flash open.
  if (remembered()) { root.classList.add("self-test"); }

  function setSelfTest(on) {
    root.classList.toggle("self-test", on);
    var button = document.querySelector(".self-test-toggle");
    if (button) { button.setAttribute("aria-pressed", on ? "true" : "false"); }
    document.querySelectorAll("section.question.open").forEach(function (q) { q.classList.remove("open"); });
    remember(on);
  }

  function el(tag, className, text) {
    var node = document.createElementNS("http://www.w3.org/1999/xhtml", tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  // --- search ------------------------------------------------------------------------------------

  var prepared = null;
  function documents() {
    if (prepared === null) {
      prepared = (window.HANDBOOK_SEARCH || []).map(function (d) {
        return { href: d[0], title: d[1], tags: d[2], body: d[3],
                 t: d[1].toLowerCase(), g: d[2].toLowerCase(), b: d[3].toLowerCase() };
      });
    }
    return prepared;
  }

  function terms(query) {
    return query.toLowerCase().split(/\s+/).filter(function (t) { return t.length >= 2; });
  }

  // Every question holding every term somewhere; a term in the title weighs most, then tags, then body.
  function search(query) {
    var words = terms(query);
    if (!words.length) { return []; }
    var hits = [];
    documents().forEach(function (d, order) {
      var score = 0;
      for (var i = 0; i < words.length; i++) {
        var w = words[i];
        var s = (d.t.indexOf(w) >= 0 ? 100 : 0) + (d.g.indexOf(w) >= 0 ? 10 : 0) + (d.b.indexOf(w) >= 0 ? 1 : 0);
        if (!s) { return; }
        score += s;
      }
      hits.push({ doc: d, score: score, order: order });
    });
    hits.sort(function (a, b) { return b.score - a.score || a.order - b.order; });
    return hits;
  }

  // `text` with each occurrence of a term wrapped in <mark>, appended to `parent`.
  function highlighted(parent, text, words) {
    var lower = text.toLowerCase();
    var at = 0;
    while (at < text.length) {
      var next = -1, length = 0;
      words.forEach(function (w) {
        var i = lower.indexOf(w, at);
        if (i >= 0 && (next < 0 || i < next)) { next = i; length = w.length; }
      });
      if (next < 0) { break; }
      parent.appendChild(document.createTextNode(text.slice(at, next)));
      parent.appendChild(el("mark", "", text.slice(next, next + length)));
      at = next + length;
    }
    parent.appendChild(document.createTextNode(text.slice(at)));
  }

  function snippet(d, words) {
    var first = -1;
    words.forEach(function (w) {
      var i = d.b.indexOf(w);
      if (i >= 0 && (first < 0 || i < first)) { first = i; }
    });
    if (first < 0) { return d.body.slice(0, 120) + (d.body.length > 120 ? "…" : ""); }
    var start = Math.max(0, first - 40);
    var end = Math.min(d.body.length, first + 80);
    return (start > 0 ? "…" : "") + d.body.slice(start, end) + (end < d.body.length ? "…" : "");
  }

  function showResults() {
    var box = document.querySelector(".search");
    var list = document.getElementById("search-results");
    var status = document.getElementById("search-status");
    if (!box || !list || !status) { return; }
    var query = new URLSearchParams(window.location.search).get("q") || "";
    var input = document.getElementById("search-query");
    if (input) { input.value = query; }
    document.querySelectorAll(".site-header .search-input").forEach(function (i) { i.value = query; });
    if (!query.trim()) { return; }
    var words = terms(query);
    if (!words.length) { status.textContent = box.getAttribute("data-short"); return; }
    var started = performance.now();
    var hits = search(query);
    root.setAttribute("data-search-ms", (performance.now() - started).toFixed(2));
    status.textContent = hits.length
      ? box.getAttribute("data-found").replace("{n}", String(hits.length))
      : box.getAttribute("data-none").replace("{q}", query);
    hits.slice(0, 100).forEach(function (hit) {
      var item = el("li", "search-result");
      var link = el("a", "search-result-title");
      link.setAttribute("href", hit.doc.href);
      highlighted(link, hit.doc.title, words);
      item.appendChild(link);
      if (hit.doc.tags) {
        var tags = el("span", "search-result-tags");
        highlighted(tags, hit.doc.tags, words);
        item.appendChild(tags);
      }
      var text = el("p", "search-result-snippet");
      highlighted(text, snippet(hit.doc, words), words);
      item.appendChild(text);
      list.appendChild(item);
    });
  }

  // For the tests and the curious: the ranking over any list of [href, title, tags, answer].
  window.handbookSearch = function (query, docs) {
    if (docs) { window.HANDBOOK_SEARCH = docs; prepared = null; }
    return search(query).map(function (hit) { return hit.doc.href; });
  };

  // --- the page ----------------------------------------------------------------------------------

  function addPermalinks() {
    var header = document.querySelector(".site-header");
    var title = header ? header.getAttribute("data-permalink") || "" : "";
    document.querySelectorAll("section.question[id] > h2.question-title").forEach(function (h) {
      var a = el("a", "permalink", "#");
      a.setAttribute("href", "#" + h.parentNode.id);
      a.setAttribute("title", title);
      a.setAttribute("aria-label", title);
      h.appendChild(a);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector(".self-test-toggle");
    if (button) {
      button.setAttribute("aria-pressed", root.classList.contains("self-test") ? "true" : "false");
      button.addEventListener("click", function () { setSelfTest(!root.classList.contains("self-test")); });
    }
    addPermalinks();
    // In self-test mode a question opens when its title is clicked.
    document.addEventListener("click", function (event) {
      var target = event.target;
      if (!(target instanceof Element)) { return; }
      var image = target.closest("main img");
      if (image && !target.closest("a")) {
        window.location.href = image.getAttribute("src");  // the diagram alone, full size, zoomable
        return;
      }
      var heading = target.closest("h2.question-title");
      if (heading && root.classList.contains("self-test") && !target.closest("a.permalink")) {
        heading.parentNode.classList.toggle("open");
      }
    });
    document.addEventListener("keydown", function (event) {
      var active = document.activeElement;
      var typing = active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA" || active.isContentEditable);
      if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        var input = document.getElementById("search-query") || document.querySelector(".search-input");
        if (input) { event.preventDefault(); input.focus(); input.select(); }
      }
    });
    showResults();
  });
})();
