// The console's one script of its own: a form sent with htmx shows a refusal (4xx) or an outage
// (5xx) where it asked for its outcome; htmx's default swaps successes only. Anything else (the
// matrix's refresh) keeps its page as it was when an answer fails.
document.addEventListener("htmx:beforeSwap", function (event) {
  if (event.detail.isError && event.detail.requestConfig.elt.tagName === "FORM") {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
