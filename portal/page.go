package portal

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

var pageTemplate = template.Must(template.ParseFS(static, "static/index.html"))

// PageConfig configures the web page.
type PageConfig struct {
	// Title is the page title; empty means "Developer portal".
	Title string
	// API is the path the consumer operations are mounted under ("/v1"); the page calls
	// {API}/me/keys, {API}/me/usage/days and, with Billing, {API}/me/subscription.
	API string
	// Billing shows the consumer's plan (GET {API}/me/subscription and /me/plans).
	Billing bool
	// KeyHeader is the header the API reads keys from; empty means "X-API-Key".
	KeyHeader string
}

// contentSecurityPolicy allows the page its own script, style and API calls, and nothing
// else: no inline script, no third-party origin, no framing, no form posts elsewhere.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Page returns the developer portal page, to mount at prefix (for example "/portal"): the
// HTML at prefix and prefix/, its script and style below. It needs no build step (an
// html/template and a small embedded script), calls the same JSON API as any client, keeps
// the API key in memory only (gone on reload or when the tab closes), and is usable with
// the keyboard alone.
func Page(prefix string, cfg PageConfig) http.Handler {
	prefix = strings.TrimSuffix(prefix, "/")
	if cfg.Title == "" {
		cfg.Title = "Developer portal"
	}
	if cfg.KeyHeader == "" {
		cfg.KeyHeader = "X-API-Key"
	}
	var html bytes.Buffer
	if err := pageTemplate.Execute(&html, struct {
		PageConfig
		Prefix string
	}{cfg, prefix}); err != nil {
		panic(err) // the template and its data are fixed: a failure is a bug
	}
	page := html.Bytes()
	js, _ := static.ReadFile("static/app.js")
	css, _ := static.ReadFile("static/app.css")
	serve := func(ctype string, body []byte, cache string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			h := w.Header()
			h.Set("Content-Type", ctype)
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Cache-Control", cache)
			_, _ = w.Write(body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle(prefix+"/{$}", serve("text/html; charset=utf-8", page, "no-store"))
	mux.Handle(prefix+"/app.js", serve("text/javascript; charset=utf-8", js, "no-cache"))
	mux.Handle(prefix+"/app.css", serve("text/css; charset=utf-8", css, "no-cache"))
	mux.Handle(prefix, http.RedirectHandler(prefix+"/", http.StatusMovedPermanently))
	return mux
}
