package easemob

import (
	"fmt"

	"github.com/valyala/fasthttp"

	"github.com/imrelay/imrelay/sandbox/emu"
)

// apiError is one Easemob error answer.
type apiError struct {
	Status      int
	Error       string
	Exception   string
	Description string
	Code        int // error_code, only where the vendor documents one
}

// errorBody is the vendor's error envelope, fields in its order.
type errorBody struct {
	Error       string `json:"error"`
	Exception   string `json:"exception"`
	Timestamp   int64  `json:"timestamp"`
	Duration    int64  `json:"duration"`
	ErrorCode   int    `json:"error_code,omitempty"`
	Description string `json:"error_description"`
}

func (e *Emulator) fail(ctx *fasthttp.RequestCtx, ae apiError) {
	emu.WriteJSON(ctx, ae.Status, errorBody{
		Error: ae.Error, Exception: ae.Exception, Timestamp: e.core.Now().UnixMilli(),
		ErrorCode: ae.Code, Description: ae.Description,
	})
}

// Exception class names. The vendor documents SecurityException (401),
// JsonParseException (json_parse) and MessageSendException
// (message_send_error); the others are the names its Usergrid-based
// server most likely uses. [ASSUMPTION]
const (
	excSecurity    = "org.apache.usergrid.rest.exceptions.SecurityException"
	excIllegalArg  = "java.lang.IllegalArgumentException"
	excJSONParse   = "org.codehaus.jackson.JsonParseException"
	excMessageSend = "MessageSendException"
	excRequestBody = "InvalidRequestBodyException"
	excNotFound    = "org.apache.usergrid.services.exceptions.ServiceResourceNotFoundException"
	excAppNotFound = "org.apache.usergrid.rest.exceptions.OrganizationApplicationNotFoundException"
	excUnsupported = "org.apache.usergrid.services.exceptions.UnsupportedServiceOperationException"
	excWebApp      = "javax.ws.rs.WebApplicationException"
	excReachLimit  = "org.apache.usergrid.rest.exceptions.ReachLimitException"
	excInternal    = "java.lang.RuntimeException"
)

var (
	errExpired = apiError{401, "unauthorized", excSecurity,
		"Unable to authenticate due to expired access token", 0}
	errCorrupt = apiError{401, "auth_bad_access_token", excSecurity,
		"Unable to authenticate due to corrupt access token", 0}
	errUnknownToken = apiError{401, "auth_bad_access_token", excSecurity, "Unable to authenticate", 0}

	errNotFound  = apiError{404, "service_resource_not_found", excNotFound, "Service resource not found", 0}
	errMethod    = apiError{405, "unsupported_service_operation", excUnsupported, "Service operation not supported", 0}
	errMediaType = apiError{415, "web_application", excWebApp, "Unsupported Media Type", 0}

	errReachLimit = apiError{429, "reach_limit", excReachLimit, "This request has reached api limit", 0}
	errSendLimit  = apiError{403, "message_send_error", excMessageSend, "message send reach limit", 0}
	errInternal   = apiError{500, "internal_server_error", excInternal, "Internal Server Error", 0}

	errRequestBody = apiError{400, "invalid_request_body", excRequestBody,
		"Request body is invalid. Please check body is correct.", 0}
	errTooLarge = apiError{400, "message_send_error", excMessageSend, "message is too large", 14007}
)

func errAppNotFound(org, app, rest string) apiError {
	return apiError{404, "organization_application_not_found", excAppNotFound,
		fmt.Sprintf("Could not find application for %s/%s from URI: %s/%s/%s", org, app, org, app, rest), 0}
}

func errJSONParse(err error) apiError {
	return apiError{400, "json_parse", excJSONParse, "Unexpected character in request body: " + err.Error(), 0}
}

func errIllegal(desc string) apiError {
	return apiError{400, "illegal_argument", excIllegalArg, desc, 0}
}

func errGrant(desc string) apiError { return apiError{400, "invalid_grant", excIllegalArg, desc, 0} }

func errSend(desc string) apiError {
	return apiError{400, "message_send_error", excMessageSend, desc, 0}
}
