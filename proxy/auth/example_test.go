package auth_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/imrelay/imrelay/proxy/auth"
)

func ExampleCheckSum() {
	fmt.Println(auth.CheckSum("610128b2fabe", "123456", "1700000000"))
	// Output: bde93a861dd449eb9fa1cae67a5ea79d463f41dd
}

func ExampleCheckSumVerifier() {
	v := &auth.CheckSumVerifier{
		AppKey:    "my-app-key",
		AppSecret: "610128b2fabe",
		Now:       func() time.Time { return time.Unix(1700000120, 0) },
	}
	sum := auth.CheckSum("610128b2fabe", "123456", "1700000000")
	fmt.Println(v.VerifyString("my-app-key", "123456", "1700000000", sum))
	fmt.Println(v.VerifyString("my-app-key", "123456", "1700000000", "0000"))
	// Output:
	// <nil>
	// auth: netease: CheckSum does not match
}

func ExampleYouduCipher() {
	c, err := auth.NewYouduCipher("AY2O92Lpyr4M2IOXT05NQG3eaXd72FlS/QZ1l4vGKsQ=")
	if err != nil {
		panic(err)
	}
	// A fixed prefix reproduces a known envelope; real use keeps crypto/rand.
	c = c.WithRand(strings.NewReader("0123456789abcdef"))
	env, _ := c.Encrypt([]byte("1700000000"), "yd37D192E9F20E448192827A001A84D443")
	fmt.Println(env)

	msg, appID, _ := c.Decrypt(env)
	fmt.Println(string(msg), appID)
	// Output:
	// v6805vKW2awcnEiXuLdBsJgkPWEbi0SmjoVvQjI6IxVkJU1Wtd31Rwr+8HORL4ZTqcNSzK7yunGfkaLyJ57LkS8dgAzQ+nF8RQd+ufQ/+0ZAjzGZQfBGOFbarxDFMhcp
	// 1700000000 yd37D192E9F20E448192827A001A84D443
}
