// Starts Swagger UI on /api/docs. A file, not an inline script: the Content-Security-Policy
// allows scripts from this site only.
window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
