package main

// newDelivery is a valid createDelivery request body.
var newDelivery = map[string]any{
	"pickup":          map[string]any{"line1": "1 Depot Way", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
	"dropoff":         map[string]any{"line1": "12 Market Street", "city": "Leeds", "postal_code": "LS1 6DT", "country": "GB"},
	"recipient_phone": "+447700900123",
	"items":           []map[string]any{{"sku": "MILK-2L", "quantity": 2}},
}
