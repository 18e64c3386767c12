package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/tollgate-dev/tollgate/clients"
	"github.com/tollgate-dev/tollgate/examples/delivery/deliveries"
)

// The delivery API calls two third-party upstreams through package clients: a payment
// provider, to charge the delivery fee, and an SMS provider, to text the recipient.
//
//	PAYMENTS_URL  base URL of the payment provider; empty starts a local sandbox
//	SMS_URL       base URL of the SMS provider; empty starts a local sandbox
//	SANDBOX_FAIL  comma-separated sandboxes that start out failing: "payments", "sms"
//
// A sandbox listens on loopback and logs its URL at startup. It can be told to fail at any
// time, to watch retries and the circuit breaker at work:
//
//	curl -X PUT 'http://127.0.0.1:PORT/sandbox/failure?mode=503'   # 503 with Retry-After
//	curl -X PUT 'http://127.0.0.1:PORT/sandbox/failure?mode=reset' # connection reset
//	curl -X PUT 'http://127.0.0.1:PORT/sandbox/failure?mode=slow'  # answers after 3 s
//	curl -X PUT 'http://127.0.0.1:PORT/sandbox/failure?mode=none'  # healthy again
//	curl -X PUT 'http://127.0.0.1:PORT/sandbox/failure?mode=reset&count=2' # the next 2 only
//	curl http://127.0.0.1:PORT/sandbox/stats
//
// With the payment provider down, creating a delivery fails with 502 after the retries,
// then, once its breaker opens, at once with 503 and Retry-After, without calling the
// provider (the upstream's own error is logged, never returned); a few seconds after
// the sandbox is healthy again a probe closes the breaker. With the SMS provider down,
// deliveries are still created and paid for, and the failed texts are logged.

// upstreams are the example's upstream clients and the sandboxes standing in for them.
type upstreams struct {
	Payments  *paymentProvider
	SMS       *smsProvider
	sandboxes []*sandbox
}

var (
	_ deliveries.Charger  = (*paymentProvider)(nil)
	_ deliveries.Notifier = (*smsProvider)(nil)
)

// startUpstreams builds the upstream clients, starting a sandbox for each upstream without
// a configured URL. tune, when not nil, adjusts each client's Config (tests shorten waits).
func startUpstreams(getenv func(string) string, logger *slog.Logger, tune func(*clients.Config)) (*upstreams, error) {
	u := &upstreams{}
	failing := map[string]bool{}
	for _, name := range splitList(getenv("SANDBOX_FAIL")) {
		failing[name] = true
	}
	base := func(name, env string, newSandbox func() *sandbox) (string, error) {
		if v := getenv(env); v != "" {
			return v, nil
		}
		sb := newSandbox()
		if failing[name] {
			sb.setFailure(failure503)
		}
		if err := sb.start(); err != nil {
			return "", err
		}
		u.sandboxes = append(u.sandboxes, sb)
		logger.Info("sandbox upstream started", "upstream", name, "url", sb.url, "failing", failing[name])
		return sb.url, nil
	}
	config := func(cfg clients.Config) clients.Config {
		if tune != nil {
			tune(&cfg)
		}
		return cfg
	}

	payURL, err := base("payments", "PAYMENTS_URL", newPaymentsSandbox)
	if err != nil {
		return nil, err
	}
	// Charges carry the delivery's idempotency key, so they are retried safely.
	pay, err := clients.New(config(clients.Config{Name: "payments", BaseURL: payURL}))
	if err != nil {
		u.Close()
		return nil, err
	}
	u.Payments = &paymentProvider{c: pay}

	smsURL, err := base("sms", "SMS_URL", newSMSSandbox)
	if err != nil {
		u.Close()
		return nil, err
	}
	// The SMS provider deduplicates on Idempotency-Key, so the client may add one and retry.
	sms, err := clients.New(config(clients.Config{Name: "sms", BaseURL: smsURL,
		Retry: clients.RetryConfig{GenerateIdempotencyKey: true}}))
	if err != nil {
		u.Close()
		return nil, err
	}
	u.SMS = &smsProvider{c: sms}
	return u, nil
}

// Close stops the sandboxes and releases the clients' connections.
func (u *upstreams) Close() {
	if u.Payments != nil {
		_ = u.Payments.c.Close()
	}
	if u.SMS != nil {
		_ = u.SMS.c.Close()
	}
	for _, sb := range u.sandboxes {
		sb.close()
	}
}

// paymentProvider charges delivery fees through the payment provider's API.
type paymentProvider struct{ c *clients.Client }

type chargeRequest struct {
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Customer  string `json:"customer"`
	Reference string `json:"reference"`
}

type charge struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// Charge implements deliveries.Charger.
func (p *paymentProvider) Charge(ctx context.Context, owner, deliveryID string, cents int64, currency, idempotencyKey string) error {
	var ch charge
	err := post(ctx, p.c, "/v1/charges", idempotencyKey,
		chargeRequest{Amount: cents, Currency: currency, Customer: owner, Reference: deliveryID}, &ch)
	if se := clients.StatusError(err); se != nil {
		// The service answers with the problem clients chose (503 + Retry-After for an open
		// breaker, 504 for a timeout, 502 otherwise) and logs the upstream's own error.
		return fmt.Errorf("%w: %w", se, err)
	}
	if err != nil {
		return err
	}
	if ch.Status != "succeeded" {
		return fmt.Errorf("charge %s is %s", ch.ID, ch.Status)
	}
	return nil
}

// smsProvider sends text messages through the SMS provider's API.
type smsProvider struct{ c *clients.Client }

type messageRequest struct {
	To   string `json:"to"`
	Body string `json:"body"`
}

// NotifyRecipient implements deliveries.Notifier.
func (s *smsProvider) NotifyRecipient(ctx context.Context, phone, text string) error {
	return post(ctx, s.c, "/v1/messages", "", messageRequest{To: phone, Body: text}, nil)
}

// post sends a JSON request and decodes the JSON answer into out (when not nil).
func post(ctx context.Context, c *clients.Client, path, idempotencyKey string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := c.NewRequest(ctx, http.MethodPost, path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	resp, err := c.Do(req)
	if err != nil {
		return upstreamFailure{err}
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// upstreamFailure keeps the details of an upstream error (its URL, its problem body) for
// logs, while the message that reaches the API's own callers stays short.
type upstreamFailure struct{ err error }

func (f upstreamFailure) Unwrap() error { return f.err }

func (f upstreamFailure) Error() string {
	var e *clients.Error
	switch {
	case errors.Is(f.err, clients.ErrCircuitOpen):
		return "provider unavailable (circuit open)"
	case errors.As(f.err, &e) && e.Problem != nil && e.Problem.Title != "":
		return fmt.Sprintf("provider answered %d: %s", e.Status, e.Problem.Title)
	case errors.As(f.err, &e) && e.Status != 0:
		return fmt.Sprintf("provider answered %d", e.Status)
	case errors.Is(f.err, clients.ErrAttemptTimeout), errors.Is(f.err, context.DeadlineExceeded):
		return "provider timed out"
	}
	return "provider unreachable"
}
