{{/*
Named templates shared by every service. A template that needs one service takes
(list $ "<name>"): the root context and the service's short name.
*/}}

{{/* Prefix of every object's name: the release name. */}}
{{- define "platform.prefix" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* One service's values: the defaults with its own entry laid over them (YAML). */}}
{{- define "platform.svc" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $own := index $root.Values.services $name -}}
{{- $merged := mergeOverwrite (deepCopy $root.Values.defaults) (deepCopy $own) -}}
{{- $_ := set $merged "name" $name -}}
{{- $_ := set $merged "fullname" (printf "%s-%s" (include "platform.prefix" $root) $name) -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* Labels of one component of a service: (list $ "<name>" "<component>"). */}}
{{- define "platform.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ index . 1 }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 2 }}
{{- end -}}

{{- define "platform.labels" -}}
{{- $root := index . 0 -}}
{{ include "platform.selectorLabels" . }}
app.kubernetes.io/part-of: platform
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/version: {{ include "platform.tag" $root | quote }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version }}
{{- end -}}

{{/* Pod labels: the selector's, plus app and version for the mesh's telemetry. */}}
{{- define "platform.podLabels" -}}
{{ include "platform.labels" . }}
app: {{ index . 1 }}
version: {{ (index (index . 0).Values.services (index . 1)).imageTag | default (include "platform.tag" (index . 0)) | quote }}
{{- end -}}

{{- define "platform.tag" -}}
{{- .Values.global.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{/* The image of a service: (list $ $svc), at its own imageTag when it was released alone. */}}
{{- define "platform.image" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- printf "%s/%s:%s" ($root.Values.global.image.registry | trimSuffix "/") $svc.folder ($svc.imageTag | default (include "platform.tag" $root)) -}}
{{- end -}}

{{/* The in-cluster address of a service's web Service. */}}
{{- define "platform.serviceHost" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s.%s.svc.%s" (include "platform.prefix" $root) (index . 1) $root.Release.Namespace $root.Values.global.clusterDomain -}}
{{- end -}}

{{- define "platform.secretName" -}}
{{- $root := index . 0 -}}
{{- printf "%s%s" ($root.Values.secrets.namePrefix | default (printf "%s-" (include "platform.prefix" $root))) (index . 1) -}}
{{- end -}}

{{- define "platform.signingKeysSecret" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $svc.signingKeys.existingSecret | default (printf "%s-signing-keys" (include "platform.secretName" (list $root $svc.name))) -}}
{{- end -}}

{{/*
Settings of a service that are not secrets (a ConfigMap's data): (list $ $svc).
*/}}
{{- define "platform.settings" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $public := printf "%s://%s" $root.Values.global.publicScheme $root.Values.global.publicHost -}}
PLATFORM_PROFILE: real
DEBUG: "0"
PORT: {{ $svc.web.port | quote }}
PROMETHEUS_MULTIPROC_DIR: /tmp/metrics
CSRF_TRUSTED_ORIGINS: {{ $public | quote }}
SECURE_COOKIES: {{ ternary "1" "0" (eq $root.Values.global.publicScheme "https") | quote }}
SERVICE_CLIENT_ID: {{ $svc.name | quote }}
JWT_JWKS_URL: {{ printf "http://%s:%v/.well-known/jwks.json" (include "platform.serviceHost" (list $root "auth")) $root.Values.defaults.web.port | quote }}
{{- range $other := keys $root.Values.services | sortAlpha }}
{{ upper $other }}_SERVICE_URL: {{ printf "http://%s:%v" (include "platform.serviceHost" (list $root $other)) $root.Values.defaults.web.port | quote }}
{{- end }}
{{- with $root.Values.global.tracing }}
{{- if .otlpEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ .otlpEndpoint | quote }}
OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf
OTEL_TRACES_SAMPLER: {{ .sampler | quote }}
OTEL_TRACES_SAMPLER_ARG: {{ .samplerArg | toString | quote }}
OTEL_SERVICE_NAME: {{ $svc.name | quote }}
{{- $version := $svc.imageTag | default (include "platform.tag" $root) }}
{{- $attributes := list (printf "service.version=%s" $version) (printf "deployment.environment=%s" .environment) (printf "k8s.namespace.name=%s" $root.Release.Namespace) }}
{{- range $key, $value := .resourceAttributes }}
{{- $attributes = append $attributes (printf "%s=%s" $key $value) }}
{{- end }}
OTEL_RESOURCE_ATTRIBUTES: {{ join "," $attributes | quote }}
{{- end }}
{{- end }}
{{- range $key, $value := $root.Values.global.env }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- range $key, $value := $svc.env }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The hosts a service answers for (ALLOWED_HOSTS, without the pod's own address). */}}
{{- define "platform.allowedHosts" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $short := $svc.fullname -}}
{{- $hosts := list $root.Values.global.publicHost $short (printf "%s.%s" $short $root.Release.Namespace) (printf "%s.%s.svc" $short $root.Release.Namespace) (include "platform.serviceHost" (list $root $svc.name)) "localhost" "127.0.0.1" -}}
{{- concat $hosts $root.Values.global.extraAllowedHosts | uniq | join "," -}}
{{- end -}}

{{/*
A container's environment: (list $ $svc). ALLOWED_HOSTS ends with the pod's address, which
kubelet probes and Prometheus send as Host; secrets come as files (<KEY>_FILE).
*/}}
{{- define "platform.env" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: ALLOWED_HOSTS
  value: {{ printf "%s,$(POD_IP)" (include "platform.allowedHosts" (list $root $svc)) | quote }}
{{- range $key := $svc.secretKeys }}
- name: {{ $key }}_FILE
  value: /var/run/secrets/platform/{{ $key }}
{{- end }}
{{- if $svc.signingKeys }}
- name: JWT_SIGNING_KEYS_DIR
  value: /var/run/secrets/signing-keys
{{- end }}
{{- end -}}

{{- define "platform.volumeMounts" -}}
{{- $svc := index . 1 -}}
- name: tmp
  mountPath: /tmp
- name: secrets
  mountPath: /var/run/secrets/platform
  readOnly: true
{{- if $svc.signingKeys }}
- name: signing-keys
  mountPath: /var/run/secrets/signing-keys
  readOnly: true
{{- end }}
{{- end -}}

{{/* Volumes: a writable /tmp (the root filesystem is read-only) and the secrets. The second
argument names the Secret (the migration Job may read its own copy). */}}
{{- define "platform.volumes" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $secret := index . 2 -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
- name: secrets
  secret:
    secretName: {{ $secret }}
    defaultMode: 0400
    items:
    {{- range $key := $svc.secretKeys }}
      - key: {{ $key }}
        path: {{ $key }}
    {{- end }}
{{- if $svc.signingKeys }}
- name: signing-keys
  secret:
    secretName: {{ include "platform.signingKeysSecret" (list $root $svc) }}
    defaultMode: 0400
{{- end }}
{{- end -}}

{{- define "platform.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.runAsUser }}
runAsGroup: {{ .Values.podSecurity.runAsGroup }}
fsGroup: {{ .Values.podSecurity.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "platform.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Scheduling and pull secrets shared by every pod. */}}
{{- define "platform.podCommon" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- include "platform.podSecurityContext" . | nindent 2 }}
{{- end -}}

{{/* An ExternalSecret's spec: the service's secret in the store, as the Secret named by the
third argument. (list $ $svc "<secret name>") */}}
{{- define "platform.externalSecretSpec" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
refreshInterval: {{ $root.Values.externalSecrets.refreshInterval }}
secretStoreRef:
  {{- toYaml $root.Values.externalSecrets.secretStoreRef | nindent 2 }}
target:
  name: {{ index . 2 }}
  creationPolicy: Owner
  # A secret deleted in the store leaves the Secret as it was: running pods keep working.
  deletionPolicy: Retain
data:
{{- range $key := $svc.secretKeys }}
  - secretKey: {{ $key }}
    remoteRef:
      key: {{ printf "%s%s" $root.Values.externalSecrets.keyPrefix $svc.name }}
      property: {{ $key }}
{{- end }}
{{- end -}}

{{/* Scrapes through Istio's mTLS with the certificates the mesh writes for Prometheus
(istio.io, "Prometheus TLS settings"), when monitoring.istioCertificates is on. */}}
{{- define "platform.scrapeTls" -}}
{{- if .Values.monitoring.istioCertificates -}}
scheme: https
tlsConfig:
  caFile: /etc/prom-certs/root-cert.pem
  certFile: /etc/prom-certs/cert-chain.pem
  keyFile: /etc/prom-certs/key.pem
  insecureSkipVerify: true
{{- end -}}
{{- end -}}

{{/*
The HTTP routes to one service's Service: (list $ "<name>"). Idempotent methods are retried
by the mesh when the request never reached a pod (connection refused or reset); any other
method is never retried by the mesh, since the kit's clients and the gateway already retry
what is safe to retry, and a mesh retry of a POST could take a payment twice.
*/}}
{{- define "platform.meshRoutes" -}}
{{- $root := index . 0 -}}
{{- $istio := $root.Values.istio -}}
{{- $destination := include "platform.serviceHost" (list $root (index . 1)) -}}
- name: idempotent
  match:
    - method:
        regex: "GET|HEAD|OPTIONS"
  timeout: {{ $istio.timeout }}
  retries:
    attempts: {{ $istio.retries.attempts }}
    perTryTimeout: {{ $istio.retries.perTryTimeout }}
    retryOn: {{ $istio.retries.retryOn }}
  route:
    - destination:
        host: {{ $destination }}
        port:
          number: {{ $root.Values.defaults.web.port }}
- name: other-methods
  timeout: {{ $istio.timeout }}
  retries:
    attempts: 0
  route:
    - destination:
        host: {{ $destination }}
        port:
          number: {{ $root.Values.defaults.web.port }}
{{- end -}}

{{/* Spread a component's pods over nodes, as a preference (a small cluster still schedules
them): (list $ "<name>" "<component>"). */}}
{{- define "platform.spread" -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    matchLabelKeys: [pod-template-hash]
    labelSelector:
      matchLabels:
        {{- include "platform.selectorLabels" . | nindent 8 }}
{{- end -}}
