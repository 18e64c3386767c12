package stackbench

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkLayers serves the operation through ServeHTTP with no network, bare and then
// with one more layer of the composition at a time, so each layer's own cost in time and
// allocations shows as the difference from the line before, and a CPU profile of one
// sub-benchmark shows only the stack's work.
//
//	go -C benchmarks test -run '^$' -bench Layers -benchtime 50000x ./stack/
func BenchmarkLayers(b *testing.B) {
	dir := b.TempDir()
	for _, c := range []struct {
		name   string
		layers *Layers
	}{
		{"bare", nil},
		{"observe", &Layers{Observe: true}},
		{"+auth", &Layers{Observe: true, Auth: true}},
		{"+meter-memory", &Layers{Observe: true, Auth: true, Meter: true}},
		{"+meter-spool", &Layers{Observe: true, Auth: true, Meter: true, Dir: dir + "/spool"}},
		{"+limit", &Layers{Observe: true, Auth: true, Meter: true, Dir: dir + "/full", Limit: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			h, key := Bare(), ""
			if c.layers != nil {
				st, err := Compose(*c.layers)
				if err != nil {
					b.Fatal(err)
				}
				defer func() {
					if err := st.Close(); err != nil {
						b.Error(err)
					}
				}()
				h, key = st.Handler, st.Key
			}
			req := httptest.NewRequest(http.MethodGet, "/items/42", nil)
			if key != "" {
				req.Header.Set("X-API-Key", key)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
