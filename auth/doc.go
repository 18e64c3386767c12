// Package auth decides who the caller of a request is and what they may do: API keys
// (prefixed, checksummed, stored as keyed digests, rotated and revoked), JWT/OIDC bearer
// tokens verified against JWKS, and scopes, with the caller's [Principal] in the request
// context for the packages that follow (rate limits, metering, billing).
//
// The operation is the policy: huma operation modifiers [Require] and [Public] declare the
// security requirement, document it in the OpenAPI and configure the middleware from one
// value. An operation that declares neither is refused when it is registered.
//
// # Quick start
//
//	store, err := auth.OpenFileKeyStore("data/keys.jsonl") // or auth/pgkeystore
//	keys, err := auth.NewKeys(auth.KeyConfig{Store: store, Secret: auth.Secret(os.Getenv("KEY_SECRET"))})
//	authn, err := auth.New(auth.Config{
//		Keys: keys,
//		JWT: &auth.JWTConfig{Issuers: []auth.Issuer{{
//			Issuer:   "https://login.example.com/",
//			Audience: "https://api.example.com",
//		}}},
//	})
//	issued, err := keys.Create(ctx, auth.KeySpec{Consumer: "acme", Scopes: []string{"orders:read"}})
//	fmt.Println(issued.Key.Reveal()) // shown once; only its HMAC digest is stored
//
// # Huma
//
// Install the middleware before registering operations, and declare every operation:
//
//	api.UseMiddleware(authn.Huma(api))
//	huma.Get(api, "/health", health, auth.Public())
//	v1 := huma.NewGroup(api, "/v1")
//	v1.UseSimpleModifier(auth.Require("orders:read"))
//	huma.Get(v1, "/orders", listOrders)
//	huma.Post(v1, "/orders", createOrder, auth.Require("orders:write")) // needs both scopes
//
// [Authenticator.Huma] adds the "apiKey" and "bearer" security schemes to the OpenAPI
// components ("bearer" also when only API keys are configured, since they are accepted as
// bearer tokens), narrows each operation's security to the schemes in use, documents its
// 400, 401, 403, 429 and 503 responses, and panics (as huma does for other registration
// mistakes) when an operation declares neither [Require] nor [Public], naming the operation. huma's own
// routes (the OpenAPI document, docs, schemas) are not operations and stay reachable.
// Only OAuth 2.0 and OpenID Connect schemes can declare scopes, so each scheme's description
// (and its x-tollgate-scopes extension) lists the scopes the operations require.
// Handlers read the caller with [FromContext].
//
// # net/http
//
// [Authenticator.Handler] requires a credential on every request; routes declare scopes by
// wrapping their handler with [Authenticator.Require], and anonymous routes with
// [Authenticator.Public], which Handler finds through the ServeMux:
//
//	mux.Handle("GET /healthz", authn.Public(health))
//	mux.Handle("GET /orders", authn.Require(list, "orders:read"))
//	http.ListenAndServe(":8080", authn.Handler(mux))
//
// # API keys
//
// A key reads tg_live_<id>_<secret><checksum>: a product prefix and an environment, a
// public 12-character id, 178 bits of secret from crypto/rand and a CRC-32 checksum in
// base62. The checksum lets a typo or a truncated paste fail without touching the store,
// and lets secret scanners ([KeyPattern]) tell real keys from lookalikes. The store keeps
// HMAC-SHA256(server secret, id, secret): a copy of the store alone reveals no key and
// allows no offline guessing. Digests are compared in constant time.
//
// Verified keys are cached for [KeyConfig.CacheTTL] (30 s by default). That is the
// revocation bound: a key revoked, disabled, rotated out or changed in another process
// stops working within CacheTTL; in the process that made the change, at once. The cache
// holds SHA-256 of the verified secret, not the secret. [Keys.Rotate] issues a
// replacement and keeps the old key working through a grace period, so clients can switch
// without downtime.
//
// Stores: [MemoryKeyStore] (in process), [FileKeyStore] (a journal synced on every change,
// for local use and single nodes), and auth/pgkeystore (PostgreSQL). A store implements
// [KeyStore]; [KeyWriter] adds issuing and changing keys. auth/authtest.RunKeyStore checks
// a store against the contract.
//
// # Bearer tokens
//
// JWT access tokens are verified with github.com/golang-jwt/jwt/v5, the dependency-free
// JWT library most Go services already use; it leaves key selection to the caller, which
// is what lets this package pin keys and control fetching. Keys come from the issuer's
// JWKS, found by OpenID Connect discovery or configured, cached for the issuer's
// Cache-Control max-age (between 1 minute and 24 hours), refetched on an unknown kid at most
// once per [Issuer.RefreshCooldown], and kept through an issuer outage for up to
// [Issuer.MaxStale]. An expired key set that knows the token's key keeps answering while
// one background fetch refreshes it, so a slow issuer never stalls requests. Each key is pinned to the algorithms of its type (and its "alg"):
// "none" and HMAC are never accepted, so a public key cannot be used as an HMAC secret.
// exp is required, iss and aud must match exactly, leeway is bounded (5 minutes), a "crit"
// header is refused, and "jku", "x5u" and "jwk" headers are never followed: keys come only
// from the configured issuer. Tokens over [JWTConfig.MaxTokenBytes] are refused before
// parsing. Scopes come from "scope" (space separated) and "scp" (array or string).
//
// A verified token is cached until its exp (bounded, [JWTConfig.CacheSize]), found by a
// keyed hash and confirmed by comparing the token itself; removing a key from the issuer's
// JWKS ends the cached tokens it signed.
//
// # Errors
//
// Failures are [*Error] values matching [ErrUnauthenticated] (401), [ErrForbidden] (403),
// [ErrThrottled] (429) or [ErrUnavailable] (503, when the key store or an issuer cannot be
// reached: the client's credential may be fine). [Problem] turns them into RFC 9457
// problems with WWW-Authenticate (RFC 6750) and Retry-After. Clients get the same answer
// for an unknown key, a wrong secret, an expired or a revoked one. Error messages, for
// logs, name the key by its hint (prefix, id and last four characters, [KeyHint]) and
// never contain a secret; [Secret] values redact themselves in fmt, slog and JSON.
//
// # Throttling failed attempts
//
// [Config.Throttle] takes a [Throttle] (ratelimit.AuthThrottle is one) that slows clients
// which keep failing authentication, counted by client address and by the key a wrong
// secret targets, apart from any key's quota. It is consulted only after a credential
// failed: a credential that verifies is served whatever its address did before, so
// someone sharing an address with a consumer cannot lock that consumer out, and a success
// does not reset the count. Once throttled, a failing credential is answered 429 with
// Retry-After instead of 401, the same for an unknown key, a wrong secret or a bad token,
// so the answer reveals nothing about which keys exist.
//
// The cheap checks still come first: a malformed key or one whose checksum fails is refused
// without a store lookup; a well-formed key is looked up (a guesser cannot be told apart
// from its holder without it), and a valid one is served from the verified-key cache.
// BenchmarkThrottledGuess on a 2-core amd64 machine, with the in-process throttle:
//
//	malformed or mistyped key, throttled   ~650–760 ns/op   8 allocs (the 429, its reason, the address)
//	unknown key id, throttled               ~870 ns/op      8 allocs (plus one in-memory store lookup)
//	valid key from a throttled address      ~275 ns/op      0 allocs
//
// Client addresses honour X-Forwarded-For only from [Config.TrustedProxies].
//
// # Performance
//
// Measured with go test -bench on a 2-core amd64 machine (BenchmarkVerifyKey,
// BenchmarkVerifyJWT, BenchmarkJWTBaseline):
//
//	API key, warm cache            ~180 ns/op   0 allocs
//	API key, store + HMAC          ~880 ns/op
//	JWT ES256, cold / warm         ~68 µs / ~135 ns   (warm: 0 allocs)
//	JWT EdDSA, cold / warm         ~42 µs / ~130 ns
//	JWT RS256, cold / warm         ~30 µs / ~215 ns
//
// A warm key is verified by comparing a SHA-256 of the presented secret with the cached
// one; a warm token by a keyed hash lookup that also compares the token itself. Cold token
// verification costs what golang-jwt alone costs plus a few percent for the extra checks.
package auth
