{{/*
Chart name, for the app.kubernetes.io/name label.
*/}}
{{- define "fullon-ohlcv.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Base name of every resource: the release name unless overridden. Suffixes (-operator,
-collector, -metrics) are added to it, so it is cut to leave room for them.
*/}}
{{- define "fullon-ohlcv.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 42 | trimSuffix "-" }}
{{- end }}

{{- define "fullon-ohlcv.operatorName" -}}
{{- printf "%s-operator" (include "fullon-ohlcv.fullname" .) }}
{{- end }}

{{- define "fullon-ohlcv.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels of every resource.
*/}}
{{- define "fullon-ohlcv.labels" -}}
helm.sh/chart: {{ include "fullon-ohlcv.chart" . }}
app.kubernetes.io/name: {{ include "fullon-ohlcv.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fullon
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels of the operator Pod (never change them: a Deployment's selector is immutable).
*/}}
{{- define "fullon-ohlcv.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "fullon-ohlcv.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "fullon-ohlcv.operatorLabels" -}}
{{ include "fullon-ohlcv.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
Labels the operator puts on every collector Pod (the contract with ohlcv-operator); the
PodMonitor, the PodDisruptionBudget and the NetworkPolicy select collectors by them.
*/}}
{{- define "fullon-ohlcv.collectorSelectorLabels" -}}
app.kubernetes.io/name: fullon-ohlcv-collector
app.kubernetes.io/managed-by: ohlcv-operator
{{- end }}

{{- define "fullon-ohlcv.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "fullon-ohlcv.operatorName" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fullon-ohlcv.collectorServiceAccountName" -}}
{{- if .Values.collector.serviceAccount.create }}
{{- default (printf "%s-collector" (include "fullon-ohlcv.fullname" .)) .Values.collector.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.collector.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
An image reference from repository, tag and digest; the digest wins.
Call with (dict "repository" ... "tag" ... "digest" ...).
*/}}
{{- define "fullon-ohlcv.imageRef" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository .tag }}
{{- end }}
{{- end }}

{{- define "fullon-ohlcv.operatorImage" -}}
{{- include "fullon-ohlcv.imageRef" (dict "repository" .Values.image.repository "tag" (default .Chart.AppVersion .Values.image.tag) "digest" .Values.image.digest) }}
{{- end }}

{{/*
The collectors' image: the operator's unless collector.image names another. A digest of the
operator image is not inherited by a collector image with its own repository or tag.
*/}}
{{- define "fullon-ohlcv.collectorImage" -}}
{{- $c := .Values.collector.image }}
{{- $repository := default .Values.image.repository $c.repository }}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) $c.tag }}
{{- if $c.digest }}
{{- include "fullon-ohlcv.imageRef" (dict "repository" $repository "digest" $c.digest) }}
{{- else if or $c.repository $c.tag }}
{{- include "fullon-ohlcv.imageRef" (dict "repository" $repository "tag" $tag) }}
{{- else }}
{{- include "fullon-ohlcv.operatorImage" . }}
{{- end }}
{{- end }}

{{- define "fullon-ohlcv.collectorPullPolicy" -}}
{{- default .Values.image.pullPolicy .Values.collector.image.pullPolicy }}
{{- end }}

{{/*
imagePullSecrets in the usual [{name: ...}] form, from names or from such objects.
*/}}
{{- define "fullon-ohlcv.imagePullSecrets" -}}
{{- $secrets := list }}
{{- range .Values.imagePullSecrets }}
{{- if kindIs "string" . }}
{{- $secrets = append $secrets (dict "name" .) }}
{{- else }}
{{- $secrets = append $secrets (dict "name" .name) }}
{{- end }}
{{- end }}
{{- toJson $secrets }}
{{- end }}

{{/*
The collector Pods' defaults the operator applies (OHLCV_COLLECTOR_POD): an OhlcvCollector's
spec fields of the same names replace them, its podAnnotations and podLabels merge with them.
*/}}
{{- define "fullon-ohlcv.collectorPod" -}}
{{- $c := .Values.collector }}
{{- toJson (dict
  "imagePullSecrets" (include "fullon-ohlcv.imagePullSecrets" . | fromJsonArray)
  "affinity" $c.affinity
  "topologySpreadConstraints" $c.topologySpreadConstraints
  "priorityClassName" $c.priorityClassName
  "podAnnotations" $c.podAnnotations
  "podLabels" $c.podLabels) }}
{{- end }}

{{/*
Checks that values.schema.json cannot express.
*/}}
{{- define "fullon-ohlcv.validate" -}}
{{- with .Values.autoscaling }}
{{- if and .enabled (gt (int .minReplicas) (int .maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%d) must not exceed autoscaling.maxReplicas (%d)" (int .minReplicas) (int .maxReplicas)) }}
{{- end }}
{{- end }}
{{- end }}
