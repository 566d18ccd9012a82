// SPDX-License-Identifier: Apache-2.0
// docs.js: Swagger UI over ./openapi.yaml. "Try it out" sends its requests
// to this page's own server (the document's servers entry names the demo's
// default address), so the browser's login and same-origin rules apply.
/* global SwaggerUIBundle */
(function () {
  'use strict';
  var studio = document.querySelector('meta[name="genflow-studio"]');
  if (studio && studio.content) document.getElementById('studio-link').href = studio.content;
  window.ui = SwaggerUIBundle({
    url: new URL('openapi.yaml', document.baseURI).href,
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    docExpansion: 'list',
    tryItOutEnabled: false,
    requestInterceptor: function (req) {
      try {
        var u = new URL(req.url, window.location.href);
        if (u.origin !== window.location.origin && /^(127\.0\.0\.1|localhost)$/.test(u.hostname)) {
          req.url = window.location.origin + u.pathname + u.search;
        }
      } catch (e) { /* leave it */ }
      return req;
    },
  });
}());
