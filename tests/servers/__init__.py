"""Small real third-party servers the tests start on loopback (spyne SOAP, httpbin)."""
