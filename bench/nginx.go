package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The nginx + njs peer: js_content parses the getsender message, signs
// and sends the NetEase request through r.subrequest to an internal
// proxy_pass location (keepalive upstream; ngx.fetch in njs 0.7.9 has no
// keepalive), and renders the getsender answer.

const njsScript = `
var crypto = require('crypto');
var KEY = '%s', SECRET = '%s', CLIENT = '%s', TOKEN = '%s', SENDER = '%s';

function pad(n) { return (n < 10 ? '0' : '') + n; }

function beijingTime() {
    var d = new Date(Date.now() + 8 * 3600 * 1000);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
        pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds());
}

function answer(r, code, message, id) {
    var a = {code: code, message: message, data: id === undefined ? null : {getMessageId: id},
        page: null, foot: {operationTime: beijingTime(), servicePhone: '', host: 'imrelay'}};
    r.headersOut['Content-Type'] = 'application/json;charset=UTF-8';
    r.return(200, JSON.stringify(a));
}

function translate(r) {
    if (r.method !== 'POST' || r.args.client !== CLIENT || r.args.token !== TOKEN) {
        return answer(r, 401, 'unauthorized');
    }
    var m;
    try { m = JSON.parse(r.requestText); } catch (e) { return answer(r, 400, 'bad json'); }
    if (m.messageType !== 1 || !m.userId || !m.messageInfo || !m.messageInfo.msg) {
        return answer(r, 400, 'want a text message');
    }
    var from = m.from || SENDER;
    var body = JSON.stringify({message: {message_type: 0, text: m.messageInfo.msg}});
    var nonce = crypto.createHash('md5').update(String(Math.random())).digest('hex').slice(0, 16);
    var cur = String(Math.floor(Date.now() / 1000));
    var sum = crypto.createHash('sha1').update(SECRET + nonce + cur).digest('hex');
    var path = '/nimserver/im/v2/conversations/' + from + '|1|' + m.userId + '/messages';
    r.subrequest(path, {method: 'POST', body: body, args: 'n=' + nonce + '&t=' + cur + '&s=' + sum},
        function (reply) {
            var ne;
            try { ne = JSON.parse(reply.responseText); } catch (e) { return answer(r, 502, 'bad upstream answer'); }
            if (ne.code === 200) {
                return answer(r, 200, '成功', String(ne.data.message_server_id));
            }
            answer(r, ne.code, ne.msg);
        });
}

export default {translate};
`

const nginxConf = `
daemon off;
master_process on;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
load_module %[4]s;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    js_import gs from %[1]s/gs.js;
    upstream netease {
        server %[3]s;
        keepalive 256;
    }
    server {
        listen %[2]s;
        client_body_buffer_size 1m;
        client_max_body_size 1m;
        keepalive_requests 1000000;
        location = /sender/v1/handleBusinessMessage {
            js_content gs.translate;
        }
        location /nimserver/ {
            internal;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Content-Type "application/json;charset=UTF-8";
            proxy_set_header AppKey "%[5]s";
            proxy_set_header Nonce $arg_n;
            proxy_set_header CurTime $arg_t;
            proxy_set_header CheckSum $arg_s;
            proxy_pass http://netease;
        }
    }
}
`

// njsModule is where Debian's libnginx-mod-http-js puts the module.
const njsModule = "/usr/lib/nginx/modules/ngx_http_js_module.so"

// haveNginx reports whether nginx and its njs module are installed.
func haveNginx() bool {
	if _, err := exec.LookPath("nginx"); err != nil {
		return false
	}
	_, err := os.Stat(njsModule)
	return err == nil
}

// nginxCommand writes the peer's files into dir and returns the command
// that runs nginx in the foreground on addr, in front of upstream.
func nginxCommand(dir, addr, upstream string) (*exec.Cmd, error) {
	up := strings.TrimPrefix(upstream, "http://")
	if _, _, err := net.SplitHostPort(up); err != nil {
		return nil, fmt.Errorf("nginx: upstream %q: %w", upstream, err)
	}
	js := fmt.Sprintf(njsScript, upstreamKey, upstreamSecr, benchClient, benchToken, benchSender)
	if err := os.WriteFile(filepath.Join(dir, "gs.js"), []byte(js), 0o644); err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	conf := fmt.Sprintf(nginxConf, dir, addr, up, njsModule, upstreamKey)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	return exec.Command("nginx", "-p", dir, "-c", cf, "-e", filepath.Join(dir, "error.log")), nil
}
