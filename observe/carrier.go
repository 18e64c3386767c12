package observe

import "net/http"

// headerCarrier is propagation.HeaderCarrier without its cost: propagators ask for
// lower-case keys ("traceparent", "baggage"), and http.Header.Get allocates a canonical copy
// of each on every call. The keys the W3C propagators use are mapped to their canonical form
// here once.
type headerCarrier http.Header

var canonicalKeys = map[string]string{
	"traceparent": "Traceparent",
	"tracestate":  "Tracestate",
	"baggage":     "Baggage",
}

func (c headerCarrier) Get(key string) string {
	if k, ok := canonicalKeys[key]; ok {
		if v := c[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return http.Header(c).Get(key)
}

func (c headerCarrier) Set(key, value string) { http.Header(c).Set(key, value) }

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
