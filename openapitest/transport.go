package openapitest

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// Transport returns a client transport that sends requests through base (nil means
// http.DefaultTransport) and checks every exchange against doc, failing t on each drift.
// It serves tests that reach the service over a real connection, where no handler can be
// wrapped. A request body is buffered to be checked, unless the request can replay it
// (http.NewRequest sets GetBody for in-memory bodies).
func Transport(t testing.TB, base http.RoundTripper, doc []byte, opts ...Options) http.RoundTripper {
	t.Helper()
	if base == nil {
		base = http.DefaultTransport
	}
	v := Handler(t, http.NotFoundHandler(), doc, opts...)
	return &transport{v: v, base: base}
}

type transport struct {
	v    *Validator
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody != nil {
			rc, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			body, _ = io.ReadAll(io.LimitReader(rc, maxBody))
			_ = rc.Close()
		} else {
			b, err := io.ReadAll(req.Body)
			_ = req.Body.Close()
			if err != nil {
				return nil, err
			}
			body = b
			req = req.Clone(req.Context())
			req.Body = io.NopCloser(bytes.NewReader(b))
		}
	}
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	check := req.Clone(req.Context())
	check.Body = io.NopCloser(bytes.NewReader(body))
	seen := *resp
	seen.Body = io.NopCloser(bytes.NewReader(b))
	for _, d := range tr.v.Check(check, &seen) {
		tr.v.t.Errorf("openapitest: %s", d)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}
