package deliveries

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
)

// Charger takes payment for a delivery fee from the partner's account.
type Charger interface {
	Charge(ctx context.Context, owner, deliveryID string, cents int64, currency string, idempotencyKey string) error
}

// Notifier tells the recipient about their delivery.
type Notifier interface {
	NotifyRecipient(ctx context.Context, phone, text string) error
}

// Service serves the delivery operations.
type Service struct {
	Store *Store
	// Owner returns the account the request acts for. Nil means one shared "demo" account.
	Owner func(ctx context.Context) string
	// Payments charges the fee when a delivery is created; nil charges nothing.
	Payments Charger
	// SMS notifies the recipient when a delivery is created; nil sends nothing.
	SMS Notifier
	// FeeCents and Currency price a delivery; zero means 499 GBP minor units.
	FeeCents int64
	Currency string
}

// Policy holds the operation modifiers for reading and for writing operations, so the
// composing service decides who may call what (scopes, limits, meters) without this package
// knowing about them.
type Policy struct {
	Read  []func(*huma.Operation)
	Write []func(*huma.Operation)
}

// Register adds the delivery operations to api.
func Register(api huma.API, svc *Service, policy Policy) {
	huma.Register(api, op(huma.Operation{
		OperationID:   "createDelivery",
		Method:        http.MethodPost,
		Path:          "/deliveries",
		Summary:       "Create a delivery",
		Description:   "Creates a delivery, charges the delivery fee and texts the recipient.",
		Tags:          []string{"Deliveries"},
		DefaultStatus: http.StatusCreated,
		// Besides huma's own 422 and 500: a body it cannot read, and what the payment
		// provider's failures become (see upstreamError).
		Errors: []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
	}, policy.Write), svc.create)
	documentRetryAfter(api, "createDelivery", http.StatusServiceUnavailable)
	huma.Register(api, op(huma.Operation{
		OperationID: "getDelivery",
		Method:      http.MethodGet,
		Path:        "/deliveries/{id}",
		Summary:     "Get a delivery and its status",
		Tags:        []string{"Deliveries"},
		Errors:      []int{http.StatusNotFound},
	}, policy.Read), svc.get)
	huma.Register(api, op(huma.Operation{
		OperationID: "confirmDelivery",
		Method:      http.MethodPost,
		Path:        "/deliveries/{id}/confirm",
		Summary:     "Confirm receipt of a delivery",
		Tags:        []string{"Deliveries"},
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict,
			http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType},
	}, policy.Write), svc.confirm)
	huma.Register(api, op(huma.Operation{
		OperationID: "listDeliveries",
		Method:      http.MethodGet,
		Path:        "/deliveries",
		Summary:     "List deliveries",
		Tags:        []string{"Deliveries"},
		Errors:      []int{http.StatusUnprocessableEntity},
	}, policy.Read), svc.list)
}

// documentRetryAfter adds Retry-After to the status response of the operation registered
// as id: huma documents an error's status from Operation.Errors, not its headers.
func documentRetryAfter(api huma.API, id string, status int) {
	for _, item := range api.OpenAPI().Paths {
		for _, o := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if o == nil || o.OperationID != id || o.Responses[strconv.Itoa(status)] == nil {
				continue
			}
			r := o.Responses[strconv.Itoa(status)]
			if r.Headers == nil {
				r.Headers = map[string]*huma.Param{}
			}
			r.Headers["Retry-After"] = &huma.Param{Description: "Seconds to wait before retrying.", Schema: &huma.Schema{Type: "integer"}}
		}
	}
}

func op(o huma.Operation, mods []func(*huma.Operation)) huma.Operation {
	for _, m := range mods {
		m(&o)
	}
	return o
}

type deliveryOutput struct {
	Body Delivery
}

type createInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Repeat a request with the same key to create the delivery at most once."`
	Body           struct {
		Pickup         Address `json:"pickup"`
		Dropoff        Address `json:"dropoff"`
		RecipientPhone string  `json:"recipient_phone" pattern:"^\\+[1-9][0-9]{6,14}$" example:"+447700900123" doc:"E.164 phone number"`
		Items          []Item  `json:"items" minItems:"1" maxItems:"100"`
	}
}

func (s *Service) owner(ctx context.Context) string {
	if s.Owner == nil {
		return "demo"
	}
	return s.Owner(ctx)
}

func (s *Service) create(ctx context.Context, in *createInput) (*deliveryOutput, error) {
	fee, cur := s.FeeCents, s.Currency
	if fee == 0 {
		fee = 499
	}
	if cur == "" {
		cur = "GBP"
	}
	owner := s.owner(ctx)
	d, err := s.Store.Create(ctx, owner, Delivery{
		Pickup: in.Body.Pickup, Dropoff: in.Body.Dropoff, RecipientPhone: in.Body.RecipientPhone,
		Items: in.Body.Items, FeeCents: fee, Currency: cur,
	})
	if err != nil {
		return nil, err
	}
	if s.Payments != nil {
		key := in.IdempotencyKey
		if key == "" {
			key = d.ID
		}
		if err := s.Payments.Charge(ctx, owner, d.ID, fee, cur, key); err != nil {
			return nil, upstreamError(ctx, "payment provider", err)
		}
	}
	if s.SMS != nil {
		if err := s.SMS.NotifyRecipient(ctx, d.RecipientPhone, "Your delivery "+d.ID+" is on its way."); err != nil {
			// The delivery exists and is paid for; a failed text is not worth failing the call.
			slog.WarnContext(ctx, "recipient notification failed", "delivery", d.ID, "err", err)
		}
	}
	return &deliveryOutput{Body: d}, nil
}

type idInput struct {
	ID string `path:"id" pattern:"^dlv_[0-9a-f]{16}$" doc:"Delivery id"`
}

func (s *Service) get(ctx context.Context, in *idInput) (*deliveryOutput, error) {
	d, err := s.Store.Get(ctx, s.owner(ctx), in.ID)
	if err != nil {
		return nil, domainError(err)
	}
	return &deliveryOutput{Body: d}, nil
}

type confirmInput struct {
	ID   string `path:"id" pattern:"^dlv_[0-9a-f]{16}$" doc:"Delivery id"`
	Body struct {
		ReceivedBy string `json:"received_by" minLength:"1" maxLength:"100" doc:"Name of the person who received the delivery"`
	}
}

func (s *Service) confirm(ctx context.Context, in *confirmInput) (*deliveryOutput, error) {
	d, err := s.Store.Confirm(ctx, s.owner(ctx), in.ID, in.Body.ReceivedBy)
	if err != nil {
		return nil, domainError(err)
	}
	return &deliveryOutput{Body: d}, nil
}

type listInput struct {
	After  string `query:"after" pattern:"^(dlv_[0-9a-f]{16})?$" doc:"Cursor: the id of the last delivery of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20"`
	Status Status `query:"status" enum:"created,confirmed,cancelled" doc:"Only deliveries in this status"`
}

type listOutput struct {
	Body struct {
		Deliveries []Delivery `json:"deliveries"`
		Next       string     `json:"next,omitempty" doc:"Cursor for the next page; absent on the last page"`
	}
}

func (s *Service) list(ctx context.Context, in *listInput) (*listOutput, error) {
	out := &listOutput{}
	out.Body.Deliveries, out.Body.Next = s.Store.List(ctx, s.owner(ctx), in.After, in.Limit, in.Status)
	return out, nil
}

func domainError(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return huma.Error404NotFound("no such delivery")
	case errors.Is(err, ErrConflict):
		return huma.Error409Conflict("the delivery was cancelled")
	}
	return err
}

// upstreamError answers for a failed upstream call without passing the upstream's own
// words to the caller: the error may say what the problem is (a huma.StatusError in its
// chain, such as a 503 with Retry-After for an open circuit), otherwise it is a 502. The
// detail goes to the log, with the trace id.
func upstreamError(ctx context.Context, what string, err error) error {
	slog.ErrorContext(ctx, what+" failed", "err", err)
	var se huma.StatusError
	if errors.As(err, &se) {
		return se
	}
	return huma.Error502BadGateway(what + " failed")
}
