package openapitest

import (
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
)

// Wrap returns a humatest.TestAPI over api whose every request is checked by a [Validator]
// against api's own document. Operations may be registered on it or on api.
func Wrap(t testing.TB, api huma.API, opts ...Options) humatest.TestAPI {
	t.Helper()
	return humatest.Wrap(t, checkedAPI{API: api, adapter: checkedAdapter{Adapter: api.Adapter(), v: New(t, api, opts...)}})
}

// checkedAPI is api with its adapter's ServeHTTP going through a Validator.
type checkedAPI struct {
	huma.API
	adapter checkedAdapter
}

func (a checkedAPI) Adapter() huma.Adapter { return a.adapter }

// Config keeps humatest's access to the wrapped API's configuration.
func (a checkedAPI) Config() huma.Config {
	if c, ok := a.API.(interface{ Config() huma.Config }); ok {
		return c.Config()
	}
	return huma.Config{OpenAPI: a.OpenAPI()}
}

type checkedAdapter struct {
	huma.Adapter
	v *Validator
}

func (a checkedAdapter) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.v.ServeHTTP(w, r) }
