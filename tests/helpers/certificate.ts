/**
 * A test certificate authority and a certificate signed by it (for 127.0.0.1,
 * and any host names asked for), made with openssl: for HTTPS endpoints and
 * proxies in the tests and the WAN benchmark.
 * (rustls, under Deno, refuses a self-signed leaf, hence the CA.)
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

/**
 * Makes the CA and the certificate in `dir`.
 *
 * @param dir A directory for the files.
 * @param names Host names the certificate names besides 127.0.0.1 (the first is its common name).
 * @returns The PEM key and certificate, and the CA file's path to trust (NODE_EXTRA_CA_CERTS, DENO_CERT), or
 *   `undefined` without openssl.
 */
export function makeCertificate(
  dir: string,
  names: readonly string[] = [],
): { key: string; cert: string; caPath: string } | undefined {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const alternatives = [...names.map((name) => `DNS:${name}`), "IP:127.0.0.1"].join(",");
  try {
    writeFileSync(`${dir}/leaf.ext`, `subjectAltName=${alternatives}\nbasicConstraints=CA:FALSE\n`);
    openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=nat-telemetry test CA",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    );
    const subject = `/CN=${names[0] ?? "127.0.0.1"}`;
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", "key.pem", "-out", "leaf.csr");
    openssl(
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      "leaf.ext",
      "-out",
      "cert.pem",
    );
  } catch {
    return undefined;
  }
  const read = (name: string) => readFileSync(`${dir}/${name}`, "utf8");
  return { key: read("key.pem"), cert: read("cert.pem"), caPath: `${dir}/ca.pem` };
}
