{{/*
Names. The default release name `chaperone` gives the names the rest of Chaperone expects by default
(chaperone-operator, chaperone-webhook, chaperone-webhook-tls); any other release name prefixes them,
so two releases never share a cluster-scoped object. Truncated so that the longest suffix still fits a
63-character DNS label.
*/}}
{{- define "chaperone.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" }}
{{- end }}

{{- define "chaperone.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "chaperone.operator.fullname" -}}{{ include "chaperone.fullname" . }}-operator{{- end }}
{{- define "chaperone.webhook.fullname" -}}{{ include "chaperone.fullname" . }}-webhook{{- end }}
{{/* The Secret the webhook keeps its self-managed serving certificate in (it creates it). */}}
{{- define "chaperone.webhook.tlsSecret" -}}{{ include "chaperone.fullname" . }}-webhook-tls{{- end }}
{{/* The Secret cert-manager writes the serving certificate to. */}}
{{- define "chaperone.webhook.certSecret" -}}{{ include "chaperone.fullname" . }}-webhook-cert{{- end }}
{{/* The MutatingWebhookConfiguration (cluster-scoped). */}}
{{- define "chaperone.webhook.configName" -}}{{ include "chaperone.webhook.fullname" . }}{{- end }}

{{- define "chaperone.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "chaperone.labels" -}}
helm.sh/chart: {{ include "chaperone.chart" . }}
app.kubernetes.io/name: {{ include "chaperone.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chaperone
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: (dict "ctx" $ "component" "webhook"). */}}
{{- define "chaperone.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chaperone.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "chaperone.componentLabels" -}}
{{ include "chaperone.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The one image: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "chaperone.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The sidecar image: the same image unless sidecar.image says otherwise. */}}
{{- define "chaperone.sidecarImage" -}}
{{- $repo := default .Values.image.repository .Values.sidecar.image.repository }}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) .Values.sidecar.image.tag }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}

{{/* Hardened pod and container security contexts (non-root 65532 as in the Dockerfile). */}}
{{- define "chaperone.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "chaperone.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
The namespaces neither webhook ever sees: the system namespaces and the release's own, by the
immutable kubernetes.io/metadata.name label (a broken webhook can never block them).
*/}}
{{- define "chaperone.excludedNamespaces" -}}
- key: kubernetes.io/metadata.name
  operator: NotIn
  values: [kube-system, kube-public, kube-node-lease, {{ .Release.Namespace | quote }}]
{{- end }}

{{/* A quantity for a command-line flag: always a string. */}}
{{- define "chaperone.quantity" -}}
{{- if kindIs "string" . }}{{ . }}{{ else }}{{ . | toString }}{{ end }}
{{- end }}
