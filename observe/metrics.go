package observe

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/danielgtaylor/huma/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric attribute keys. Requests are labelled by operation and status class only: never by
// raw path, status code or client, so the number of series stays bounded by the number of
// operations the service declares.
const (
	OperationKey   = attribute.Key("operation")
	StatusClassKey = attribute.Key("status_class")
)

// Unmatched is the operation of requests no route matched (404s, scanners), so they share
// one series instead of one per path.
const Unmatched = "unmatched"

// maxOperations caps the operation cache; beyond it, requests are counted as Unmatched. The
// operations of a service are bounded by its routes, so this only guards against a router
// that reports raw paths as patterns.
const maxOperations = 1024

type metrics struct {
	requests metric.Int64Counter
	errors   metric.Int64Counter
	panics   metric.Int64Counter
	duration metric.Float64Histogram
}

func newMetrics(m metric.Meter) (*metrics, error) {
	var (
		ms   metrics
		errs [4]error
	)
	ms.requests, errs[0] = m.Int64Counter("http.server.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Requests served, by operation and status class."))
	ms.errors, errs[1] = m.Int64Counter("http.server.errors", metric.WithUnit("{request}"),
		metric.WithDescription("Requests answered with a 5xx status, panics included."))
	ms.panics, errs[2] = m.Int64Counter("http.server.panics", metric.WithUnit("{panic}"),
		metric.WithDescription("Panics recovered while serving a request."))
	ms.duration, errs[3] = m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Time from the first byte of the request to the handler's return."),
		// OpenTelemetry's advised boundaries for HTTP server durations.
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return &ms, nil
}

// operation is what the middleware knows about a route, computed once per route: its metric
// attribute sets for each status class, so recording a request allocates nothing.
type operation struct {
	name  string // metric label
	span  string // span name, "" when it depends on the request's method
	route string // http.route: the path template

	add   [6][]metric.AddOption // by status class, index 0 for unexpected codes
	rec   [6][]metric.RecordOption
	other []metric.AddOption // operation only, for errors and panics
}

var classNames = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// newOperation precomputes an operation. span is its span name, or "" when the name is
// the request method and route, "{method} {route}", as the OpenTelemetry HTTP conventions
// name server spans.
func newOperation(name, span, route string) *operation {
	op := &operation{name: name, span: span, route: route}
	for i, c := range classNames {
		set := attribute.NewSet(OperationKey.String(name), StatusClassKey.String(c))
		op.add[i] = []metric.AddOption{metric.WithAttributeSet(set)}
		op.rec[i] = []metric.RecordOption{metric.WithAttributeSet(set)}
	}
	op.other = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(OperationKey.String(name)))}
	return op
}

func statusClass(code int) int {
	if code < 100 || code > 599 {
		return 0
	}
	return code / 100
}

func (op *operation) spanName(method string) string {
	switch {
	case op.span != "":
		return op.span
	case op.route == "":
		return method
	default:
		return method + " " + op.route
	}
}

// opCache maps route patterns and huma operations to their precomputed operation. Reads are
// a lock-free map lookup; a new route copies the map, which happens once per route.
type opCache struct {
	mu        sync.Mutex
	patterns  atomic.Pointer[map[string]*operation]
	humaOps   atomic.Pointer[map[*huma.Operation]*operation]
	unmatched atomic.Pointer[operation]
}

func (c *opCache) forUnmatched() *operation {
	if op := c.unmatched.Load(); op != nil {
		return op
	}
	op := newOperation(Unmatched, "", "")
	c.unmatched.CompareAndSwap(nil, op)
	return c.unmatched.Load()
}

// forPattern returns the operation of a net/http ServeMux pattern ("GET /items/{id}",
// "/healthz", "example.com/x"), named by the pattern itself.
func (c *opCache) forPattern(pattern string) *operation {
	if pattern == "" {
		return c.forUnmatched()
	}
	if m := c.patterns.Load(); m != nil {
		if op, ok := (*m)[pattern]; ok {
			return op
		}
	}
	return insert(c, &c.patterns, pattern, func() *operation {
		method, route, ok := strings.Cut(pattern, " ")
		if !ok {
			method, route = "", pattern
		}
		route = strings.TrimLeft(route, " \t")
		if i := strings.IndexByte(route, '/'); i > 0 {
			route = route[i:] // drop a host
		}
		span := ""
		if method != "" {
			span = method + " " + route
		}
		return newOperation(pattern, span, route)
	})
}

func (c *opCache) forHuma(hop *huma.Operation) *operation {
	if hop == nil {
		return c.forUnmatched()
	}
	if m := c.humaOps.Load(); m != nil {
		if op, ok := (*m)[hop]; ok {
			return op
		}
	}
	return insert(c, &c.humaOps, hop, func() *operation {
		name := hop.OperationID
		if name == "" {
			name = hop.Method + " " + hop.Path
		}
		// A huma operation already has a unique, human-chosen name: its ID.
		return newOperation(name, name, hop.Path)
	})
}

func insert[K comparable](c *opCache, p *atomic.Pointer[map[K]*operation], k K, build func() *operation) *operation {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := p.Load()
	if old != nil {
		if op, ok := (*old)[k]; ok {
			return op
		}
		if len(*old) >= maxOperations {
			return c.forUnmatched()
		}
	}
	m := make(map[K]*operation, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	op := build()
	m[k] = op
	p.Store(&m)
	return op
}

func lenOf[K comparable](m *map[K]*operation) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
