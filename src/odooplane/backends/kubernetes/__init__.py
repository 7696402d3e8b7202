"""The Kubernetes backend: environments as Deployments, Services, Ingresses, claims,
Secrets and Jobs in a namespace, with their record in labels and annotations."""
