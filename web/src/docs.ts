// The API reference: Swagger UI on this app's own OpenAPI document. The function key is typed into its
// Authorize dialog and kept in memory only (persistAuthorization off), never in storage or the URL.
import 'swagger-ui-dist/swagger-ui.css';
import './docs.css';

import SwaggerUIBundle from 'swagger-ui-dist/swagger-ui-es-bundle.js';

SwaggerUIBundle({
  url: new URL('openapi.json', document.baseURI).pathname,
  dom_id: '#docs',
  // The default validator badge would call validator.swagger.io: no request leaves this origin.
  validatorUrl: null,
  deepLinking: false,
  persistAuthorization: false,
  tryItOutEnabled: true,
  displayRequestDuration: true,
  // Plain code samples: the highlighter's palette fails contrast on its dark background.
  syntaxHighlight: false,
});
