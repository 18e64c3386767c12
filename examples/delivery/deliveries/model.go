// Package deliveries is the domain of the example: a delivery API that a supermarket offers
// to its delivery partners. It knows nothing of authentication, limits or metering; the
// example's main package composes those around it.
package deliveries

import "time"

// Status is where a delivery is in its life.
type Status string

// Delivery statuses, in order.
const (
	StatusCreated   Status = "created"
	StatusConfirmed Status = "confirmed" // the recipient confirmed receipt
	StatusCancelled Status = "cancelled"
)

// Address is a postal address.
type Address struct {
	Line1      string `json:"line1" minLength:"1" maxLength:"200" example:"12 Market Street"`
	City       string `json:"city" minLength:"1" maxLength:"100" example:"Leeds"`
	PostalCode string `json:"postal_code" minLength:"1" maxLength:"16" example:"LS1 6DT"`
	Country    string `json:"country" pattern:"^[A-Z]{2}$" example:"GB" doc:"ISO 3166-1 alpha-2 country code"`
}

// Item is one line of the order being delivered.
type Item struct {
	SKU      string `json:"sku" minLength:"1" maxLength:"64" example:"MILK-2L"`
	Quantity int    `json:"quantity" minimum:"1" maximum:"1000" example:"2"`
}

// Delivery is a delivery of an order to a recipient.
type Delivery struct {
	ID             string     `json:"id" example:"dlv_3f9a1c0e7b2d4a61" doc:"Delivery id"`
	Status         Status     `json:"status" enum:"created,confirmed,cancelled"`
	Pickup         Address    `json:"pickup"`
	Dropoff        Address    `json:"dropoff"`
	RecipientPhone string     `json:"recipient_phone" example:"+447700900123"`
	Items          []Item     `json:"items"`
	FeeCents       int64      `json:"fee_cents" doc:"Delivery fee charged, in minor units"`
	Currency       string     `json:"currency" example:"GBP"`
	CreatedAt      time.Time  `json:"created_at"`
	ConfirmedAt    *time.Time `json:"confirmed_at,omitempty"`
	ConfirmedBy    string     `json:"confirmed_by,omitempty"`
}
