package metering

import (
	"testing"
	"time"
)

func BenchmarkValidateAttrs(b *testing.B) {
	ev := Event{Time: time.Now(), Operation: "createDelivery", Consumer: "cus_01HZX3K9V7Q2M8N4P6R5T0W1Y2", KeyID: "k7Hq2Lm9Xp4R", IdempotencyKey: "4f1c2b9e-8d7a-4c3b-9e2f-1a6b5c4d3e2f",
		Plan: "starter-2026-01", Status: 201, Latency: time.Millisecond, Units: map[string]int64{"deliveries": 1}}
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			if err := ev.validateAttrs(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memo", func(b *testing.B) {
		var memo checkedStrings
		for b.Loop() {
			if err := ev.validateAttrsMemo(&memo); err != nil {
				b.Fatal(err)
			}
		}
	})
}
