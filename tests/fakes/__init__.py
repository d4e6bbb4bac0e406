"""Local HTTP servers that speak an external service's documented wire format
(as the service's own documentation gives it), so production code talks to them exactly as to
the real thing."""
