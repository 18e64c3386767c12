// Package openapitest checks, in tests, that what a service sends is what its own OpenAPI 3.1
// document says it sends.
//
// It is test-only code: a [Validator] buffers every body it sees and checks each exchange
// against the document with github.com/pb33f/libopenapi-validator, which is why it lives in a
// module of its own, so that neither the validator nor its dependencies enter the core module
// or a production binary.
//
// # Quick start
//
// Wrap the handler under test and send the test's requests through the wrapper:
//
//	h := openapitest.New(t, api) // a huma.API: its own document, built at the first request
//	h.ServeHTTP(rec, req)
//
// or, for any http.Handler and a document in hand:
//
//	h := openapitest.Handler(t, mux, doc)
//
// [Wrap] turns a huma API into a humatest.TestAPI whose every call is checked, and
// [Transport] checks what a client receives from a service over a real connection.
//
// # What is checked
//
// The document itself must be a valid OpenAPI document (checked against the specification's
// JSON Schema when it is first read). For every request that matches an operation of the
// document, [Validator.Check] reports a [Drift] when
//
//   - the status is not documented for the operation (neither the code, its range nor
//     "default");
//   - the body does not match the schema declared for that status and content type, or the
//     content type is not declared;
//   - a documented header does not match its schema, or a header of the contract
//     ([DefaultHeaders]: RateLimit, RateLimit-Policy, Retry-After, WWW-Authenticate and the
//     legacy X-RateLimit fields) is sent without being documented for that status;
//   - an error (status 400 and above) with a body is not application/problem+json;
//   - the request did not conform to the document (parameters, body, security) and yet the
//     server accepted it with a 2xx.
//
// Requests the document says nothing about (the OpenAPI document itself, probes, metrics,
// unknown paths and methods) are not checked: they are counted by [Validator.Unmatched].
//
// Each drift fails the test with t.Errorf, naming the method, path, status and the JSON
// pointer of the mismatch:
//
//	openapitest: GET /v1/deliveries 429: /violated-policies: additional properties 'violated-policies' not allowed
package openapitest
