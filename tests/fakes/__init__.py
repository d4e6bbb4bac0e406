"""Local HTTP servers that speak an external service's documented wire format
(REFERENCE-FORMATS.md), so production code talks to them exactly as to the real thing."""
