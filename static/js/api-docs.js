// /api/docs: start the vendored Swagger UI on the document named by the page (no inline
// script: the CSP allows none). "Try it out" sends the page's CSRF token on unsafe methods,
// so a logged-in user can call the API with the browser's own session.
(function () {
  "use strict";
  var holder = document.getElementById("api-docs");
  if (!holder || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = meta ? meta.getAttribute("content") : "";
  window.SwaggerUIBundle({
    url: holder.getAttribute("data-spec-url"),
    domNode: holder,
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    validatorUrl: null,
    requestInterceptor: function (request) {
      var method = (request.method || "GET").toUpperCase();
      if (method !== "GET" && method !== "HEAD" && csrfToken) {
        request.headers["X-CSRFToken"] = csrfToken;
      }
      return request;
    }
  });
})();
