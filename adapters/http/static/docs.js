// Swagger UI for /docs, from this server (no CDN, no inline script: see security.py).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    validatorUrl: null, // never ask validator.swagger.io
    presets: [window.SwaggerUIBundle.presets.apis],
  });
});
