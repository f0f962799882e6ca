// Starts the Pagefind UI on the index next to this page. Result links are made relative to this page's folder, so
// the mirror works under any path (a fork, a renamed repository, a second host). "?q=words" searches at once.
window.addEventListener("DOMContentLoaded", function () {
  var here = new URL(".", window.location.href).pathname;
  var ui = new PagefindUI({element: "#search", baseUrl: here, bundlePath: here + "pagefind/", showImages: false,
                           showSubResults: false});
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) ui.triggerSearch(query);
});
