package openapitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	lowv3 "github.com/pb33f/libopenapi/datamodel/low/v3"
)

// DefaultHeaders are the response headers of the contract: sent without being documented for
// the response's status, they are a drift. Other headers (Content-Type, Link, tracing and
// request ids) are not part of an operation's contract.
var DefaultHeaders = []string{
	"RateLimit", "RateLimit-Policy", "Retry-After", "WWW-Authenticate",
	"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
}

// Options tunes a [Validator]. The zero value checks everything the package documents.
type Options struct {
	// Headers are the response headers that must be documented when sent; nil means
	// [DefaultHeaders], an empty non-nil slice none.
	Headers []string
	// PlainErrors accepts error bodies in any content type the document declares, for a
	// service whose error model is not RFC 9457 problem+json.
	PlainErrors bool
	// IgnoreRequests skips the check that a request the server accepted conforms to the
	// document.
	IgnoreRequests bool
}

// Drift is one difference between an exchange and the document.
type Drift struct {
	Method string // request method
	Path   string // request path
	Status int    // response status
	// Pointer locates the mismatch: a JSON pointer (RFC 6901) into the response body
	// ("/violated-policies"), "header:Name" for a header, "request" for a request the server
	// should not have accepted; empty for the response as a whole (status, content type).
	Pointer string
	Message string
}

func (d Drift) String() string {
	loc := ""
	if d.Pointer != "" {
		loc = d.Pointer + ": "
	}
	return fmt.Sprintf("%s %s %d: %s%s", d.Method, d.Path, d.Status, loc, d.Message)
}

// Validator checks exchanges against an OpenAPI document. As an http.Handler it serves the
// handler it wraps and fails its test on every [Drift]. It is safe for concurrent use.
type Validator struct {
	t    testing.TB
	next http.Handler
	opts Options
	doc  func() ([]byte, error)

	once      sync.Once
	mu        sync.Mutex // libopenapi-validator's caches are not documented as concurrent-safe
	v         validator.Validator
	model     *v3.Document
	pathOpts  *config.ValidationOptions
	err       error
	unmatched atomic.Int64
}

// New returns a Validator serving api's adapter and checking it against api's own OpenAPI
// document. The document is read at the first request, so register operations before.
func New(t testing.TB, api huma.API, opts ...Options) *Validator {
	t.Helper()
	return newValidator(t, api.Adapter(), func() ([]byte, error) { return json.Marshal(api.OpenAPI()) }, opts)
}

// Handler returns a Validator serving h and checking it against doc, an OpenAPI 3.x
// document in JSON or YAML. An invalid document fails the test at once.
func Handler(t testing.TB, h http.Handler, doc []byte, opts ...Options) *Validator {
	t.Helper()
	v := newValidator(t, h, func() ([]byte, error) { return doc, nil }, opts)
	if err := v.load(); err != nil {
		t.Fatalf("openapitest: %v", err)
	}
	return v
}

func newValidator(t testing.TB, h http.Handler, doc func() ([]byte, error), opts []Options) *Validator {
	v := &Validator{t: t, next: h, doc: doc}
	if len(opts) > 0 {
		v.opts = opts[0]
	}
	if v.opts.Headers == nil {
		v.opts.Headers = DefaultHeaders
	}
	return v
}

func (v *Validator) load() error {
	v.once.Do(func() {
		b, err := v.doc()
		if err != nil {
			v.err = fmt.Errorf("reading the OpenAPI document: %w", err)
			return
		}
		doc, err := libopenapi.NewDocument(b)
		if err != nil {
			v.err = fmt.Errorf("parsing the OpenAPI document: %w", err)
			return
		}
		model, err := doc.BuildV3Model()
		if err != nil {
			v.err = fmt.Errorf("building the OpenAPI model: %w", err)
			return
		}
		v.model = &model.Model
		val, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			v.err = fmt.Errorf("building the validator: %w", errors.Join(errs...))
			return
		}
		v.v = val
		v.pathOpts = config.NewValidationOptions()
		// The document itself must be valid OpenAPI: a client generator reads it before any
		// response.
		if ok, errs := v.v.ValidateDocument(); !ok {
			for _, e := range errs {
				for _, f := range e.SchemaValidationErrors {
					v.t.Errorf("openapitest: the OpenAPI document is invalid: %s: %s", f.FieldPath, f.Reason)
				}
				if len(e.SchemaValidationErrors) == 0 {
					v.t.Errorf("openapitest: the OpenAPI document is invalid: %s", message(e.Message, e.Reason))
				}
			}
		}
	})
	return v.err
}

// Unmatched returns how many requests matched no operation of the document and were not
// checked.
func (v *Validator) Unmatched() int { return int(v.unmatched.Load()) }

// ServeHTTP serves the wrapped handler, passing the response through as it is written, and
// then checks the exchange, failing the test with t.Errorf for each drift.
func (v *Validator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.t.Helper()
	var reqBody bytes.Buffer
	body := r.Body
	if body != nil && body != http.NoBody {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(body, &reqBody), body}
	}
	cw := &captureWriter{w: w}
	v.next.ServeHTTP(cw, r) // a panic is the test's failure, not a drift: nothing to check
	if body != nil && body != http.NoBody {
		// Whatever the handler left unread still belongs to the request being checked.
		_, _ = io.Copy(&reqBody, io.LimitReader(body, maxBody-int64(reqBody.Len())))
	}
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(reqBody.Bytes()))
	for _, d := range v.Check(req, cw.response(r)) {
		v.t.Errorf("openapitest: %s", d)
	}
}

// Check is the decision: it returns the drifts of one exchange, none when it conforms or
// matches no operation. req's body, if any, must be readable again; resp's body is read.
func (v *Validator) Check(req *http.Request, resp *http.Response) []Drift {
	if err := v.load(); err != nil {
		return []Drift{{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Message: err.Error()}}
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))

	v.mu.Lock()
	defer v.mu.Unlock()
	drift := func(pointer, format string, args ...any) Drift {
		return Drift{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Pointer: pointer, Message: fmt.Sprintf(format, args...)}
	}
	op, docResp := v.find(req, resp.StatusCode)
	if op == nil {
		v.unmatched.Add(1)
		return nil
	}

	var out []Drift
	if req.Method != http.MethodHead {
		ok, errs := v.v.ValidateHttpResponse(req, resp)
		if !ok {
			out = append(out, drifts(drift, errs)...)
		}
	}
	if docResp != nil {
		for _, name := range v.opts.Headers {
			if resp.Header.Get(name) != "" && !documented(docResp, name) {
				out = append(out, drift("header:"+name, "header %s is sent but not documented for status %d", name, resp.StatusCode))
			}
		}
	}
	if resp.StatusCode >= 400 && len(body) > 0 && !v.opts.PlainErrors {
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if mt != "application/problem+json" {
			out = append(out, drift("", "error body is %q, not application/problem+json (RFC 9457)", mt))
		}
	}
	if resp.StatusCode < 300 && !v.opts.IgnoreRequests {
		req.Body = io.NopCloser(bytes.NewReader(readAll(req)))
		if ok, errs := v.v.ValidateHttpRequest(req); !ok {
			for _, e := range errs {
				pointer := "request"
				switch {
				case e.ParameterName != "":
					pointer += ":" + e.ParameterName
				case e.ValidationType == helpers.RequestBodyValidation && len(e.SchemaValidationErrors) > 0:
					pointer += "/" + strings.Join(escape(e.SchemaValidationErrors[0].InstancePath), "/")
				}
				out = append(out, drift(pointer, "accepted a request the document does not allow: %s", message(e.Message, e.Reason)))
			}
		}
	}
	return out
}

// find returns the operation req matches, nil when none, and the response documented for
// status (its code, range or default), nil when none is.
func (v *Validator) find(req *http.Request, status int) (*v3.Operation, *v3.Response) {
	item, errs, _ := paths.FindPath(req, v.model, v.pathOpts)
	if item == nil || len(errs) > 0 {
		return nil, nil
	}
	op := helpers.ExtractOperation(req, item)
	if op == nil {
		return nil, nil
	}
	return op, documentedResponse(op, status)
}

func documentedResponse(op *v3.Operation, status int) *v3.Response {
	if op.Responses == nil {
		return nil
	}
	code := strconv.Itoa(status)
	if r := op.Responses.Codes.GetOrZero(code); r != nil {
		return r
	}
	if r := op.Responses.Codes.GetOrZero(code[:1] + "XX"); r != nil {
		return r
	}
	return op.Responses.Default
}

func documented(resp *v3.Response, name string) bool {
	for k := range resp.Headers.KeysFromOldest() {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// drifts turns the validator's errors into drifts, one per schema failure.
func drifts(drift func(pointer, format string, args ...any) Drift, errs []*verrors.ValidationError) []Drift {
	var out []Drift
	for _, e := range errs {
		header := ""
		if e.ValidationSubType == helpers.ParameterValidationHeader || e.ValidationSubType == lowv3.HeadersLabel {
			header = e.ParameterName
		}
		if len(e.SchemaValidationErrors) == 0 {
			pointer := ""
			if header != "" {
				pointer = "header:" + http.CanonicalHeaderKey(header)
			}
			out = append(out, drift(pointer, "%s", message(e.Message, e.Reason)))
			continue
		}
		for _, f := range e.SchemaValidationErrors {
			pointer := "/" + strings.Join(escape(f.InstancePath), "/")
			switch {
			case header != "":
				pointer = "header:" + http.CanonicalHeaderKey(header)
			case e.ValidationSubType == helpers.ParameterValidationHeader && len(f.InstancePath) > 0:
				pointer = "header:" + http.CanonicalHeaderKey(f.InstancePath[0])
			}
			out = append(out, drift(pointer, "%s", message(e.Message, f.Reason)))
		}
	}
	return out
}

func message(msg, reason string) string {
	if reason == "" || reason == msg {
		return msg
	}
	return msg + ": " + reason
}

func escape(segments []string) []string {
	out := slices.Clone(segments)
	for i, s := range out {
		out[i] = strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
	}
	return out
}

func readAll(req *http.Request) []byte {
	if req.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(req.Body)
	return b
}
