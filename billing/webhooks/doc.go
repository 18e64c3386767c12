// Package webhooks signs, delivers and verifies webhooks for billing events.
//
// Outbound, an [Outbox] is a durable billing.Notifier: each event is journalled and synced
// before Notify returns, then sent to every endpoint as a Standard Webhooks request
// (webhook-id, webhook-timestamp, and webhook-signature "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>"), through a clients.Client with the SSRF Guard on, and retried with
// backoff until the endpoint answers 2xx or MaxAge passes. Across a restart the journal is
// replayed, so no accepted event is lost; receivers deduplicate on the webhook-id.
//
//	outbox, err := webhooks.OpenOutbox(webhooks.OutboxConfig{
//		Dir:       filepath.Join(dataDir, "webhooks"),
//		Endpoints: []webhooks.Endpoint{{URL: "https://billing.example.com/hooks", Secret: secret}},
//	})
//	biller, err := billing.New(ctx, billing.Config{Usage: usage, Notifier: outbox})
//	go outbox.Run(ctx)
//
// Inbound, [Verify] checks a Standard Webhooks request and [VerifyStripe] a Stripe-Signature
// header (t=…,v1=…): the timestamp within a tolerance (five minutes by default, both ways,
// which bounds replays), any of several secrets during a rotation, signatures compared in
// constant time, and at most a few entries parsed from a header. Signatures are checked on
// the raw body, before any JSON decoding. Both parsers are fuzzed.
//
// Secrets redact themselves in fmt, slog and JSON; [Secret.Reveal] is the only way to the
// text form.
package webhooks
