package sdk

import "github.com/imrelay/imrelay/sdk/abi"

// HTTPStatus returns the HTTP status a plain JSON API would answer a
// canonical error code with. A codec whose dialect has its own table
// (many answer 200 with a code in the body) uses that instead.
func HTTPStatus(code abi.Code) int {
	switch code {
	case abi.CodeBadRequest:
		return 400
	case abi.CodeUnauthorized:
		return 401
	case abi.CodeForbidden:
		return 403
	case abi.CodeNotFound:
		return 404
	case abi.CodeTooLarge:
		return 413
	case abi.CodeUnsupported:
		return 422
	case abi.CodeRateLimited:
		return 429
	case abi.CodeBusy:
		return 503
	case abi.CodeTimeout:
		return 504
	case abi.CodeNotSent, abi.CodeUpstream:
		return 502
	}
	return 500
}
