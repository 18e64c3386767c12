package openapitest

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
)

// maxBody caps what is kept of a body for checking; a larger body fails its schema check
// rather than exhausting memory.
const maxBody = 16 << 20

// captureWriter passes a response through as it is written, so streaming, flushing and
// timing are those of the handler, and keeps a copy of the status, headers and body.
type captureWriter struct {
	w      http.ResponseWriter
	status int
	header http.Header // as it was when the status was written
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.w.Header() }

func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 && status >= 200 {
		c.status = status
		c.header = c.w.Header().Clone()
	}
	c.w.WriteHeader(status)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if room := maxBody - c.body.Len(); room > 0 {
		c.body.Write(b[:min(len(b), room)])
	}
	return c.w.Write(b)
}

// Flush and Hijack keep the wrapped writer's abilities visible to handlers that test for
// them; Unwrap serves http.ResponseController.
func (c *captureWriter) Flush() {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(c.w).Flush()
}

func (c *captureWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(c.w).Hijack()
}

func (c *captureWriter) Unwrap() http.ResponseWriter { return c.w }

// response is what the client received.
func (c *captureWriter) response(r *http.Request) *http.Response {
	status, header := c.status, c.header
	if status == 0 {
		status, header = http.StatusOK, c.w.Header().Clone()
	}
	return &http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Proto:      r.Proto, ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(c.body.Bytes())),
		Request: r,
	}
}
