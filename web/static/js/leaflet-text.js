// Leaflet puts a tooltip or popup given as a string in as HTML. Every one of ours is text, and
// much of it comes from outside (enterprise names, callsigns, closure reasons, inject notes),
// so strings become text nodes here, once, for every map page: markup in a name stays text.
(function () {
  "use strict";
  const L = window.L;
  if (!L || !L.Layer) return;
  function asText(content) {
    if (typeof content !== "string") return content;
    const span = document.createElement("span");
    span.textContent = content;
    return span;
  }
  function safe(content) {
    return typeof content === "function" ? (layer) => asText(content(layer)) : asText(content);
  }
  for (const [bind, set] of [["bindTooltip", "setTooltipContent"], ["bindPopup", "setPopupContent"]]) {
    const origBind = L.Layer.prototype[bind];
    const origSet = L.Layer.prototype[set];
    L.Layer.prototype[bind] = function (content, options) {
      return origBind.call(this, safe(content), options);
    };
    if (origSet) {
      L.Layer.prototype[set] = function (content) { return origSet.call(this, safe(content)); };
    }
  }
})();
