// Starts the Pagefind UI on the index next to this page. Result links are made relative to this page's folder, so
// the mirror works under any path (a fork, a renamed repository, a second host). "?q=words" searches at once.
//
// Chinese (Japanese, Korean) queries: the index also holds, per page, a term for every pair and triple of adjacent
// CJK characters (newsmirror/editions/cjk_terms.py; the spelling's parameters are in pagefind/newsmirror-search.json).
// A query is spelled the same way, so any run of characters a page contains finds it, whatever a word segmenter
// would make of it; Traditional and Simplified characters are folded alike. Without that file (an index built
// without the terms) queries go to Pagefind unchanged.
(function () {
  var CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\u{20000}-\u{3134f}]+/gu;
  var TERM = /\bqj[a-z]{8,12}\b/g;

  function code(character) {
    var value = character.codePointAt(0), letters = "";
    for (var i = 0; i < 4; i++) { letters = String.fromCharCode(97 + value % 26) + letters; value = Math.floor(value / 26); }
    return letters;
  }

  function folder(spelling) {
    var table = new Map(), from = Array.from(spelling.from), to = Array.from(spelling.to);
    for (var i = 0; i < from.length; i++) table.set(from[i], to[i]);
    return function (text) { return Array.from(text, function (c) { return table.get(c) || c; }).join(""); };
  }

  // The query Pagefind gets: its words outside CJK runs, then each run's trigrams, or for a run of 2 characters
  // its bigram, of 1 the start of the bigrams that begin with it (Pagefind matches every word as a prefix too).
  function spell(query, spelling) {
    if (!spelling) return query;
    var fold = folder(spelling), terms = [];
    var rest = query.replace(CJK, function (run) {
      var codes = Array.from(fold(run), code), seen = {};
      if (codes.length < 3) terms.push(spelling.prefix + codes.join(""));
      for (var i = 0; i + 3 <= codes.length; i++) {
        var term = spelling.prefix + codes.slice(i, i + 3).join("");
        if (!seen[term]) { seen[term] = true; terms.push(term); }
      }
      return " ";
    });
    return rest.split(/\s+/).filter(Boolean).concat(terms).join(" ");
  }

  function escape(text) {
    return text.replace(/[&<>"]/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; });
  }

  // An excerpt around the first place the page's text contains the query (the index's own excerpt would show
  // the hidden terms it matched).
  function excerpt(result, query, spelling) {
    var text = result.content.replace(/\u200b/g, "").replace(TERM, "").replace(/\s+/g, " ").trim();
    var fold = folder(spelling), folded = fold(text).toLowerCase(), at = -1, length = 0;
    query.split(/\s+/).filter(Boolean).some(function (word) {
      at = folded.indexOf(fold(word).toLowerCase()); length = word.length; return at !== -1;
    });
    if (at === -1) return escape(text.slice(0, 80));
    var start = Math.max(0, at - 30);
    return escape(text.slice(start, at)) + "<mark>" + escape(text.slice(at, at + length)) + "</mark>" +
           escape(text.slice(at + length, at + length + 50));
  }

  var here = new URL(".", window.location.href).pathname;
  var ready = fetch(here + "pagefind/newsmirror-search.json")
    .then(function (response) { return response.ok ? response.json() : null; })
    .catch(function () { return null; });
  // For benchmarks and tests: the same spelling the search box uses.
  window.newsmirrorSearch = {ready: ready, spell: function (query) { return ready.then(function (s) { return spell(query, s); }); }};

  window.addEventListener("DOMContentLoaded", function () {
    ready.then(function (spelling) {
      var typed = "";
      var options = {element: "#search", baseUrl: here, bundlePath: here + "pagefind/", showImages: false,
                     showSubResults: false};
      if (spelling) {
        options.debounceTimeoutMs = 0;  // a debounced search preloads the unspelled query's index chunks first
        options.processTerm = function (query) { typed = query; return spell(query, spelling); };
        options.processResult = function (result) { result.excerpt = excerpt(result, typed, spelling); return result; };
      }
      var ui = new PagefindUI(options);
      var query = new URLSearchParams(window.location.search).get("q");
      if (query) ui.triggerSearch(query);
    });
  });
})();
