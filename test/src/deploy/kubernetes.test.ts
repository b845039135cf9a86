import { execFileSync } from 'node:child_process';
import { loadConfig } from '@millwright/control-plane/config.js';
import { describe, expect, it } from 'vitest';
import { accepts, deployPath, ENV, which, yamlDocs } from './support.js';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}
type HttpGet = { path: string; port: string; scheme?: string };
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet?: HttpGet };
  readinessProbe?: { httpGet?: HttpGet };
  startupProbe?: { httpGet?: HttpGet };
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}
interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string; optional?: boolean } }[];
}
interface CertificateSpec {
  secretName: string;
  dnsNames: string[];
  ipAddresses?: string[];
  usages: string[];
  isCA?: boolean;
  issuerRef: { name: string; kind: string };
}

/** The kubernetes.io/tls Secret with the control plane's server certificate (tls.crt, tls.key, ca.crt). */
const TLS_SECRET = 'millwright-control-plane-tls';
const base = yamlDocs(deployPath('kubernetes/base/kustomization.yaml'))[0] as { resources: string[] };
const objects = base.resources.flatMap((f) => yamlDocs(deployPath('kubernetes/base', f))) as K8sObject[];
const find = (kind: string) => {
  const o = objects.find((x) => x.kind === kind);
  if (!o) throw new Error(`no ${kind} in the base`);
  return o;
};
const podOf = (o: K8sObject) => (o.spec as { template: { spec: PodSpec } }).template.spec;
const workloads = () => [find('Deployment'), find('Job')];
const overlayDir = 'kubernetes/overlays/production';
const overlay = yamlDocs(deployPath(overlayDir, 'kustomization.yaml'))[0] as {
  namespace: string;
  resources: string[];
  patchesJson6902: { target: { kind: string }; path: string }[];
};
/** The overlay's replacement of the ConfigMap's control-plane.yaml. */
const overlayConfigText = () => {
  const patch = overlay.patchesJson6902.find((p) => p.target.kind === 'ConfigMap');
  const ops = yamlDocs(deployPath(overlayDir, patch!.path))[0] as { path: string; value: string }[];
  return ops.find((o) => o.path === '/data/control-plane.yaml')!.value;
};
const certManager = yamlDocs(deployPath('kubernetes/cert-manager/kustomization.yaml'))[0] as {
  namespace: string;
  resources: string[];
};
const certManagerObjects = certManager.resources.flatMap((f) =>
  yamlDocs(deployPath('kubernetes/cert-manager', f)),
) as K8sObject[];

describe('kubernetes base for the control plane', () => {
  it('parses every resource listed in kustomization.yaml, each with apiVersion, kind and name', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(
      ['ConfigMap', 'Deployment', 'Job', 'PodDisruptionBudget', 'Service', 'ServiceAccount'].sort(),
    );
    for (const o of objects) expect(o.apiVersion && o.kind && o.metadata.name).toBeTruthy();
  });

  it('runs two replicas with HTTPS probes on /healthz and /readyz of the http port', () => {
    const d = find('Deployment');
    expect(d.spec?.replicas).toBe(2);
    const [c] = podOf(d).containers;
    expect(c?.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'http', scheme: 'HTTPS' });
    expect(c?.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http', scheme: 'HTTPS' });
    expect(c?.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http', scheme: 'HTTPS' });
    expect(c?.ports).toEqual([
      { name: 'grpc', containerPort: 7443 },
      { name: 'http', containerPort: 8080 },
    ]);
  });

  it('sets requests and limits and a non-root, read-only, capability-free security context on every container', () => {
    for (const w of workloads()) {
      const pod = podOf(w);
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
      for (const c of pod.containers) {
        expect(c.resources?.requests?.cpu && c.resources.requests.memory, c.name).toBeTruthy();
        expect(c.resources?.limits?.memory, c.name).toBeTruthy();
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
  });

  it('exposes gRPC 7443 and HTTP 8080 through the Service, selecting the Deployment pods only', () => {
    const svc = find('Service').spec as { selector: Record<string, string>; ports: { name: string; port: number }[] };
    expect(svc.ports.map((p) => [p.name, p.port])).toEqual([
      ['grpc', 7443],
      ['http', 8080],
    ]);
    const podLabels = (find('Deployment').spec as { template: { metadata: { labels: Record<string, string> } } })
      .template.metadata.labels;
    expect(podLabels).toMatchObject(svc.selector);
    const jobLabels = (find('Job').spec as { template: { metadata: { labels: Record<string, string> } } }).template
      .metadata.labels;
    expect(Object.entries(svc.selector).every(([k, v]) => jobLabels[k] === v)).toBe(false);
  });

  it('keeps a PodDisruptionBudget over the same pods', () => {
    const pdb = find('PodDisruptionBudget').spec as { selector: { matchLabels: Record<string, string> } };
    expect(pdb.selector.matchLabels).toEqual({ 'app.kubernetes.io/component': 'control-plane' });
  });

  it('runs the real binaries: mw-control-plane in the Deployment, `mwctl migrate` in the Job', () => {
    expect(podOf(find('Deployment')).containers[0]?.command).toEqual(['mw-control-plane']);
    expect(podOf(find('Job')).containers[0]?.command).toEqual(['mwctl', 'migrate']);
  });

  it('uses only MW_ variables the binaries read, secrets as files for the server', () => {
    const server = podOf(find('Deployment')).containers[0]!;
    const names = (server.env ?? []).map((e) => e.name).filter((n) => n.startsWith('MW_'));
    expect(names.filter((n) => !accepts(ENV.controlPlane, n))).toEqual([]);
    expect(names).toEqual(
      expect.arrayContaining([
        'MW_DATABASE_URL_FILE',
        'MW_S3_SECRET_ACCESS_KEY_FILE',
        'MW_NATS_CREDS_FILE',
        'MW_SIGNING_KEY_FILE',
      ]),
    );
    const job = podOf(find('Job')).containers[0]!;
    for (const e of job.env ?? []) expect(ENV.mwctl.has(e.name), e.name).toBe(true);
  });

  it("ships a ConfigMap the real loadConfig accepts, with R3 streams and the Job's migrations", () => {
    const text = find('ConfigMap').data?.['control-plane.yaml'] ?? '';
    const cfg = loadConfig({ env: {}, fileText: text });
    expect(cfg.nats.replicas).toBe(3);
    expect(cfg.database.migrate).toBe(false);
    expect(cfg.grpc.port).toBe(7443);
    expect(cfg.http.port).toBe(8080);
  });

  it("the overlay's ConfigMap replacement is also a config the real loadConfig accepts", () => {
    const cfg = loadConfig({ env: {}, fileText: overlayConfigText() });
    expect(cfg.nats.replicas).toBe(3);
    expect(cfg.nats.url.split(',')).toHaveLength(3);
  });

  it.each([
    ['base', () => find('ConfigMap').data?.['control-plane.yaml'] ?? ''],
    ['overlay', overlayConfigText],
  ])('serves gRPC and HTTP over TLS (%s config) with the files of the mounted kubernetes.io/tls Secret', (_, text) => {
    const cfg = loadConfig({ env: {}, fileText: text() });
    const pod = podOf(find('Deployment'));
    const mounts = pod.containers[0]?.volumeMounts ?? [];
    for (const [cert, key] of [
      [cfg.grpc.tls.certFile, cfg.grpc.tls.keyFile],
      [cfg.http.tls.certFile, cfg.http.tls.keyFile],
    ]) {
      const mount = mounts.find((m) => cert?.startsWith(`${m.mountPath}/`));
      expect(mount, `${cert} is under no volume mount`).toBeDefined();
      // Not a subPath mount: those never see a renewed Secret.
      expect(mount?.subPath).toBeUndefined();
      expect(cert).toBe(`${mount?.mountPath}/tls.crt`);
      expect(key).toBe(`${mount?.mountPath}/tls.key`);
      const volume = pod.volumes?.find((v) => v.name === mount?.name);
      expect(volume?.secret?.secretName).toBe(TLS_SECRET);
      expect(volume?.secret?.optional).not.toBe(true);
    }
  });

  it('renders the base, the overlay and the cert-manager resources with kustomize (kubectl kustomize)', () => {
    // .ci/bootstrap installs Debian's kubernetes-client when kubectl is missing.
    const kubectl = which('kubectl');
    if (!kubectl)
      throw new Error('kubectl not found: apt-get install -y kubernetes-client (bash .ci/bootstrap does it)');
    const certs = execFileSync(kubectl!, ['kustomize', deployPath('kubernetes/cert-manager')], { encoding: 'utf8' });
    expect([...certs.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]).sort()).toEqual([
      'Certificate',
      'Certificate',
      'Issuer',
      'Issuer',
    ]);
    expect(certs).toContain(`namespace: ${overlay.namespace}`);
    for (const dir of ['base', 'overlays/production']) {
      const out = execFileSync(kubectl!, ['kustomize', deployPath('kubernetes', dir)], { encoding: 'utf8' });
      expect(out).toContain(`secretName: ${TLS_SECRET}`);
      const kinds = [...out.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]);
      expect(kinds).toEqual(expect.arrayContaining(['Deployment', 'Service', 'Job', 'PodDisruptionBudget']));
      if (dir !== 'base') {
        expect(out).toContain('name: millwright-migrate-0-1-0');
        expect(out).toContain('image: registry.example.com/millwright/control-plane:0.1.0');
        expect(out).toMatch(/namespace: millwright/);
      }
    }
  });
});

describe('TLS material for the control plane (deploy/kubernetes/cert-manager, ServiceMonitor)', () => {
  const cert = () => {
    const c = certManagerObjects.find((o) => o.kind === 'Certificate' && o.metadata.name === TLS_SECRET);
    if (!c) throw new Error(`no Certificate ${TLS_SECRET} in deploy/kubernetes/cert-manager`);
    return c.spec as unknown as CertificateSpec;
  };
  const service = () => find('Service').metadata.name;

  it('issues the Secret the Deployment mounts, for server auth, in the overlay namespace', () => {
    expect(cert().secretName).toBe(TLS_SECRET);
    expect(cert().usages).toContain('server auth');
    expect(certManager.namespace).toBe(overlay.namespace);
  });

  it('names the Service in every in-cluster form, and localhost for kubectl port-forward', () => {
    const ns = overlay.namespace;
    const svc = service();
    expect(cert().dnsNames).toEqual(
      expect.arrayContaining([svc, `${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`, 'localhost']),
    );
    expect(cert().ipAddresses).toContain('127.0.0.1');
  });

  it('signs it with a CA Issuer backed by a CA certificate of its own, so ca.crt is in the Secret', () => {
    const issuer = certManagerObjects.find((o) => o.kind === 'Issuer' && o.metadata.name === cert().issuerRef.name);
    const caSecret = (issuer?.spec as { ca?: { secretName: string } } | undefined)?.ca?.secretName;
    expect(caSecret).toBeDefined();
    const ca = certManagerObjects.find(
      (o) => o.kind === 'Certificate' && (o.spec as unknown as CertificateSpec).secretName === caSecret,
    );
    expect((ca?.spec as unknown as CertificateSpec | undefined)?.isCA).toBe(true);
  });

  it('has Prometheus scrape /metrics over HTTPS trusting that CA, with a server name on the certificate', () => {
    const monitors = overlay.resources.flatMap((f) => yamlDocs(deployPath(overlayDir, f)) as K8sObject[]);
    const sm = monitors.find((o) => o.kind === 'ServiceMonitor');
    if (!sm) throw new Error('no ServiceMonitor in the overlay');
    const [endpoint] = (sm.spec as { endpoints: { tlsConfig?: { serverName?: string } }[] }).endpoints;
    expect(endpoint).toMatchObject({
      port: 'http',
      scheme: 'https',
      tlsConfig: { ca: { secret: { name: TLS_SECRET, key: 'ca.crt' } } },
    });
    expect(cert().dnsNames).toContain(endpoint?.tlsConfig?.serverName);
  });
});
